// Prints its arguments and one environment variable.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("argc %d\n", argc);
    for (int i = 1; i < argc; i++) printf("arg %d %s\n", i, argv[i]);
    const char *v = getenv("WEFT_TEST_VAR");
    printf("env %s\n", v ? v : "(unset)");
    return 0;
}
