// File I/O inside a preopened directory: create, write, read back, stat,
// list, rename, remove. Prints a transcript the test compares exactly.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s (errno %d: %s)\n", what, errno, strerror(errno));
        exit(1);
    }
}

int main(void) {
    FILE *f = fopen("data/hello.txt", "w");
    check(f != NULL, "fopen for write");
    for (int i = 0; i < 1000; i++) fprintf(f, "line %d\n", i);
    check(fclose(f) == 0, "fclose");

    struct stat st;
    check(stat("data/hello.txt", &st) == 0, "stat");
    printf("size %lld\n", (long long)st.st_size);

    f = fopen("data/hello.txt", "r");
    check(f != NULL, "fopen for read");
    char line[64];
    long sum = 0;
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        sum += atoi(line + 5);
        lines++;
    }
    fclose(f);
    printf("lines %d sum %ld\n", lines, sum);

    check(mkdir("data/sub", 0755) == 0, "mkdir");
    check(rename("data/hello.txt", "data/sub/moved.txt") == 0, "rename");
    DIR *d = opendir("data/sub");
    check(d != NULL, "opendir");
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            printf("entry %s\n", e->d_name);
            entries++;
        }
    }
    closedir(d);
    check(unlink("data/sub/moved.txt") == 0, "unlink");
    check(rmdir("data/sub") == 0, "rmdir");
    printf("entries %d done\n", entries);
    return 0;
}
