/*
 * libFuzzer target: the user input of mtproto-cli — the PEER argument (mtp_peer_spec_parse:
 * me/self, @username, ids, -chat ids, -100 channel ids) and the server's file name that
 * `download` turns into a local name (cli_safe_name of tools/cli_name.h). mtproto-cli has no
 * t.me / tg:// link parser: PEER is the only link-like input.
 *
 * Input: the bytes, as a C string for the PEER (cut at the first NUL) and whole for the name.
 * Invariants: a spec that parses has a type and values in their documented ranges (ids,
 * username of 1..64 [A-Za-z0-9_]) and, printed back in its canonical form, parses to the same
 * spec; a safe name is 1..CLI_NAME_MAX bytes with no '/', '\\', control character, NUL or
 * leading '.'.
 *
 * Seed: fuzz/corpus/fuzz_peer_spec/.
 */
#include <mtproto/client.h>

#include "../tools/cli_name.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_spec(const char *s)
{
    mtp_peer_spec_t sp;
    memset(&sp, 0, sizeof sp);
    if (mtp_peer_spec_parse(s, &sp) != 0)
        return;
    char back[96];
    switch (sp.type) {
    case MTP_PEER_SPEC_SELF:
        snprintf(back, sizeof back, "me");
        break;
    case MTP_PEER_SPEC_USERNAME: {
        size_t n = strlen(sp.username);
        if (n < 1 || n > MTP_PEER_USERNAME_MAX ||
            strspn(sp.username, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n)
            abort();
        snprintf(back, sizeof back, "@%s", sp.username);
        break;
    }
    case MTP_PEER_SPEC_ID:
        if (sp.id <= 0)
            abort();
        if (sp.kind == MTP_PEER_USER && sp.id < (1LL << 52))
            snprintf(back, sizeof back, "%" PRId64, sp.id);
        else if (sp.kind == MTP_PEER_CHAT && sp.id <= 999999999999LL)
            snprintf(back, sizeof back, "-%" PRId64, sp.id);
        else if (sp.kind == MTP_PEER_CHANNEL && sp.id <= 999999999999LL)
            snprintf(back, sizeof back, "-%" PRId64, (int64_t)(MTP_PEER_CHANNEL_MARK + sp.id));
        else
            abort();
        break;
    default:
        abort();
    }
    mtp_peer_spec_t again;
    memset(&again, 0, sizeof again);
    if (mtp_peer_spec_parse(back, &again) != 0 || again.type != sp.type ||
        (sp.type == MTP_PEER_SPEC_ID && (again.kind != sp.kind || again.id != sp.id)) ||
        (sp.type == MTP_PEER_SPEC_USERNAME && strcmp(again.username, sp.username) != 0))
        abort();
}

static void check_name(const uint8_t *p, size_t n)
{
    char out[CLI_NAME_MAX + 1];
    size_t len = cli_safe_name(p, n, out);
    if (len < 1 || len > CLI_NAME_MAX || strlen(out) != len || out[0] == '.')
        abort();
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = (uint8_t)out[i];
        if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f)
            abort();
    }
    if (n && n <= CLI_NAME_MAX && len != n)
        abort();            /* short names are mapped byte for byte */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    check_spec(s);
    check_name(data, size);
    free(s);
    return 0;
}
