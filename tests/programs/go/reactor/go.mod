module weft.test/reactor

go 1.27
