/*
 * The fuzz targets' seed corpora replayed without libFuzzer (gcc, and ASan under SAN=1):
 * each fuzz/fuzz_NAME.c is linked with tests/fuzz_replay_main.c into
 * $(BUILD)/fuzz-replay/fuzz_NAME (Makefile), which this test runs over fuzz/corpus/fuzz_NAME/
 * and, so that every target sees more than its own seeds, over every other corpus too.
 * A target without a driver or a corpus fails the test.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXT 64

static int run(const char *drv, char *const *dirs, int n, long *replayed)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        char *args[MAXT + 2];
        args[0] = (char *)drv;
        for (int i = 0; i < n; i++)
            args[1 + i] = dirs[i];
        args[1 + n] = NULL;
        alarm(240);         /* bounded: a hang is a failure */
        execv(drv, args);
        _exit(127);
    }
    close(pfd[1]);
    char out[256] = "";
    ssize_t r = read(pfd[0], out, sizeof out - 1);
    out[r > 0 ? r : 0] = 0;
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    *replayed = 0;
    sscanf(out, "replayed %ld", replayed);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* the targets: fuzz/fuzz_*.c (run from the source tree, as prove does) */
    char *names[MAXT];
    int nt = 0;
    DIR *d = opendir("fuzz");
    struct dirent *e;
    while (d && (e = readdir(d)) && nt < MAXT) {
        size_t l = strlen(e->d_name);
        if (!strncmp(e->d_name, "fuzz_", 5) && l > 2 && !strcmp(e->d_name + l - 2, ".c"))
            names[nt++] = strndup(e->d_name, l - 2);
    }
    if (d)
        closedir(d);
    if (!nt)
        tap_bail("no fuzz/fuzz_*.c (run from the source tree)");
    qsort(names, (size_t)nt, sizeof *names, cmp);
    char *corpora[MAXT];
    int nc = 0;
    for (int i = 0; i < nt; i++) {
        char p[300];
        struct stat st;
        snprintf(p, sizeof p, "fuzz/corpus/%s", names[i]);
        OK(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "%s has a seed corpus", names[i]);
        if (stat(p, &st) == 0)
            corpora[nc++] = strdup(p);
    }
    /* the drivers beside this test: BUILD/tests/test_fuzz_corpus -> BUILD/fuzz-replay/ */
    char base[1024];
    snprintf(base, sizeof base, "%s", argv[0]);
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(base, sizeof base, ".");
    for (int i = 0; i < nt; i++) {
        char drv[1200], own[300];
        snprintf(drv, sizeof drv, "%s/../fuzz-replay/%s", base, names[i]);
        snprintf(own, sizeof own, "fuzz/corpus/%s", names[i]);
        if (access(drv, X_OK) != 0) {
            OK(0, "%s: replay driver %s built", names[i], drv);
            OK(0, "%s: every corpus replayed", names[i]);
            continue;
        }
        long n = 0;
        char *one[1] = { own };
        int rc = run(drv, one, 1, &n);
        OK(rc == 0 && n > 0, "%s: its own corpus replayed (%ld inputs, exit %d)", names[i], n, rc);
        rc = run(drv, corpora, nc, &n);
        OK(rc == 0 && n > 0, "%s: every corpus replayed (%ld inputs, exit %d)", names[i], n, rc);
    }
    for (int i = 0; i < nt; i++)
        free(names[i]);
    for (int i = 0; i < nc; i++)
        free(corpora[i]);
    return tap_done();
}
