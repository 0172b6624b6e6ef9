/* SPDX-License-Identifier: MIT
 * Benchmark helper (tests/bench/run.sh): per-call cost of hooked calls and
 * a record flood.
 *
 *   percall ro N FILE   N x open(FILE, O_RDONLY) + close; prints ns/iteration
 *   percall wr N FILE   N x open(FILE, O_WRONLY|O_CREAT, 0644) + close;
 *                       prints ns/iteration (one recorded call each)
 *
 * Under the shim, "ro" is a hooked call that is not recorded and "wr" a
 * hooked call that is; run without the shim for the baseline.  Used with
 * "wr" as the flood generator for the writer-ingest benchmark too.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: percall ro|wr N FILE\n");
        return 2;
    }
    int wr = argv[1][0] == 'w';
    long n = atol(argv[2]);
    const char *path = argv[3];
    int flags = wr ? O_WRONLY | O_CREAT : O_RDONLY;
    if (!wr) {  /* make sure the file exists */
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        close(fd);
    }
    /* Warm-up (also makes the shim's lazy connection). */
    for (int i = 0; i < 100 && !wr; i++)
        close(open(path, flags, 0644));
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(path, flags, 0644);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        close(fd);
    }
    double t1 = now_ns();
    printf("%.1f\n", (t1 - t0) / (double)n);
    return 0;
}
