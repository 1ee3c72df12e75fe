/*
 * The seed corpus of fuzz/fuzz_harness.c (the harness request path: envelope, session,
 * API decoder in three layers, every method handler) replayed by a plain runner, so that
 * gcc builds and `make test` run it too. Each file is one input; passing means no crash,
 * no sanitizer report and no connection left behind (the target traps on that).
 */
#include "testutil.h"

#include "../fuzz/fuzz_harness.c"

#include <dirent.h>

int main(void)
{
    const char *dirs[] = { "fuzz/corpus/fuzz_harness", "../fuzz/corpus/fuzz_harness" };
    DIR *d = NULL;
    const char *dir = NULL;
    for (size_t i = 0; i < 2 && !d; i++)
        if ((d = opendir(dirs[i])))
            dir = dirs[i];
    if (!d) {
        tap_skip("no fuzz/corpus/fuzz_harness here", 1);
        return tap_done();
    }
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static uint8_t buf[1 << 18];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        OK(srv && srv->conns == NULL, "seed %s (%zu bytes) replayed, its connection gone",
           e->d_name, len);
        n++;
    }
    closedir(d);
    OK(n > 0, "%d seeds replayed", n);
    if (srv)
        mtp_server_free(srv);
    free(pem);
    return tap_done();
}
