// Tries to leave its only preopened directory in every usual way. Each
// attempt must fail; prints the errno of each.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int attempt(const char *what, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        printf("ESCAPED %s\n", what);
        close(fd);
        return 1;
    }
    printf("%s: %s\n", what, strerror(errno));
    return 0;
}

int main(void) {
    int escaped = 0;
    escaped += attempt("dotdot", "sandbox/../secret.txt");
    escaped += attempt("deep dotdot", "sandbox/a/../../secret.txt");
    escaped += attempt("absolute", "/etc/passwd");
    escaped += attempt("symlink out", "sandbox/link-out");
    escaped += attempt("symlink abs", "sandbox/link-abs");
    // Creating a symlink that points outside must not let us read through it.
    symlink("../secret.txt", "sandbox/made-link");
    escaped += attempt("created symlink", "sandbox/made-link");
    printf("escaped %d\n", escaped);
    return escaped;
}
