/*
 * libFuzzer target: the sessions of other libraries (include/mtproto/session_formats.h) —
 * the Telethon, Pyrogram, GramJS and mtcute string parsers and the SQLite .session reader.
 *
 * Input: byte 0 selects the parser, the rest is the payload.
 *   byte0 % 6 = 0..3: a string session of format 1..4 (Telethon, Pyrogram, GramJS, mtcute);
 *   4, 5:             a Telethon / Pyrogram SQLite file.
 * Invariants: no crash, no leak, no read out of bounds; an accepted session has a DC in
 * range and a non-zero key, and written in any format that can hold it parses back to the
 * same DC and key.
 *
 * Seeds: fuzz/corpus/fuzz_session_formats/ (small Telethon and Pyrogram files made by
 * sqlite3, a GramJS and an mtcute string).
 */
#include <mtproto/session_formats.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0] % 6;
    mtp_session_info_t in;
    int rc;
    if (sel < 4) {
        char *t = malloc(size);
        if (!t)
            return 0;
        memcpy(t, data + 1, size - 1);
        t[size - 1] = 0;
        rc = mtp_session_info_parse(sel + 1, t, &in);
        free(t);
    } else {
        rc = mtp_session_info_parse_sqlite(sel == 4 ? MTP_SESSION_FMT_TELETHON : MTP_SESSION_FMT_PYROGRAM,
                                           data + 1, size - 1, &in);
    }
    if (rc > 0)
        abort();
    if (rc)
        return 0;
    uint8_t acc = 0;
    for (int i = 0; i < MTP_SESSION_KEY_LEN; i++)
        acc |= in.auth_key[i];
    if (in.dc_id < 1 || in.dc_id > MTP_CLIENT_MAX_DCS || !acc)
        abort();
    for (int f = 1; f <= 4; f++) {
        int err = 0;
        char *s = mtp_session_info_format(f, &in, &err);
        if (!s)
            continue;
        mtp_session_info_t back;
        if (mtp_session_info_parse(f, s, &back) || back.dc_id != in.dc_id ||
            memcmp(back.auth_key, in.auth_key, MTP_SESSION_KEY_LEN))
            abort();
        free(s);
    }
    return 0;
}
