/*
 * libFuzzer target: the session file loader (mtp_client_new with session_path: the lock,
 * the read, the whole-file parse and the swap into the new client) and the save after it.
 *
 * Input: byte 0 selects the mode, the rest is the file.
 *   bit 0 clear: the last 4 bytes of the file are replaced by the right CRC-32 (so that
 *                mutations get past the checksum into the parser);
 *   bit 0 set:   the file as given.
 * Invariants: no crash, no leak; a file that loads exports to a string, saves, and the saved
 * file loads again into a client exporting the same string; a file that is refused is left
 * byte-identical.
 *
 * Seed: fuzz/corpus/fuzz_session_file/ (the blobs of fuzz_session_import, with a mode byte).
 */
#include <mtproto/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[64], path[96];

static int put_file(const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static mtp_client_t *open_client(int *err)
{
    mtp_client_config_t cfg;
    mtp_client_config_init(&cfg);
    cfg.api_id = 1;
    cfg.api_hash = "fuzz";   /* production DC table: nothing connects without a call */
    cfg.session_path = path;
    mtp_client_t *c = NULL;
    *err = mtp_client_new(&cfg, &c);
    return c;
}

static uint8_t *get_file(size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = malloc((1u << 20) + 8);
    *n = b ? fread(b, 1, (1u << 20) + 8, f) : 0;
    fclose(f);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_session_file.%ld", (long)getpid());
        mkdir(dir, 0700);
        snprintf(path, sizeof path, "%s/s", dir);
    }
    size_t n = size - 1;
    uint8_t *blob = malloc(n + 1);
    if (!blob)
        return 0;
    memcpy(blob, data + 1, n);
    if (!(data[0] & 1) && n >= 4) {
        uint32_t crc = (uint32_t)crc32(0, blob, (uInt)(n - 4));
        for (int i = 0; i < 4; i++)
            blob[n - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    if (put_file(blob, n)) {
        free(blob);
        return 0;
    }
    int err = 0;
    mtp_client_t *c = open_client(&err);
    if (c) {
        char *a = mtp_client_session_export(c);
        if (!a || mtp_client_save(c) != 0)
            abort();        /* a session that loaded must export and save */
        mtp_client_free(c);
        c = open_client(&err);
        char *b = c ? mtp_client_session_export(c) : NULL;
        if (!b || strcmp(a, b) != 0)
            abort();        /* what we wrote must read back the same */
        free(a);
        free(b);
        mtp_client_free(c);
    } else {
        if (err == MTP_EEXIST)
            abort();        /* the lock of a freed client must be gone */
        size_t m = 0;
        uint8_t *back = get_file(&m);
        if (!back || m != n || memcmp(back, blob, n) != 0)
            abort();        /* a refused file is not touched */
        free(back);
    }
    free(blob);
    return 0;
}
