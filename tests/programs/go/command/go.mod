module weft.test/command

go 1.27
