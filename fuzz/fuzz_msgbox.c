/*
 * libFuzzer target: the updates message box (src/client/msgbox.h), driven by a script of
 * what a server and a clock can do to it.
 *
 * Input: commands, one byte each, followed by their operand:
 *   0  push a body: 2 bytes n (little endian), then n bytes
 *   1  answer the request in flight k: 1 byte k (0 common, 1 channel), 2 bytes n, n bytes
 *   2  fail the request in flight k: 1 byte k, 1 byte how (MTP_MSGBOX_FAIL_*, any value)
 *   3  time passes: 2 bytes, milliseconds
 *   4  ask for the requests due now (their tokens are kept for 1 / 2)
 *   5  pushes lost (new session)
 *   6  pop everything
 *   7  store the state and load it into a fresh box
 *   8  reset, then start again
 *   9  new parameters: 1 byte hold (ms), 1 byte retry (ms), 1 byte pts_limit
 * Invariants: no crash, leak or undefined behaviour; the stored section has the size
 * section_size reads back and loads into a box that stores the same bytes; a popped
 * update's vectors are never NULL; held bodies never exceed MTP_MSGBOX_MAX_PENDING; once
 * the requests due are taken, the deadline lies in the future.
 *
 * Seed: fuzz/corpus/fuzz_msgbox/ (a state, pushes in and out of order, a gap timing out
 * into getDifference answered by a difference, a channel's gap answered by
 * getChannelDifference).
 */
#include "client/msgbox.h"

#include <mtproto/tl_schema.h>

#include <stdlib.h>
#include <string.h>

typedef struct rd {
    const uint8_t *p, *end;
} rd_t;

static int get8(rd_t *r)
{
    return r->p < r->end ? *r->p++ : -1;
}

static int get16(rd_t *r)
{
    int a = get8(r), b = get8(r);
    return a < 0 || b < 0 ? -1 : a | b << 8;
}

/* n bytes of the script (fewer at its end) */
static const uint8_t *take(rd_t *r, int n, size_t *len)
{
    size_t left = (size_t)(r->end - r->p);
    *len = n < 0 ? 0 : (size_t)n < left ? (size_t)n : left;
    const uint8_t *p = r->p;
    r->p += *len;
    return p;
}

static void roundtrip(mtp_msgbox_t *b)
{
    mtp_buf_t s, t;
    mtp_buf_init(&s);
    mtp_buf_init(&t);
    mtp_msgbox_serialize(b, &s);
    if (s.err || mtp_msgbox_section_size(s.data, s.len, 4) != s.len)
        abort();
    mtp_msgbox_t *c = mtp_msgbox_new(NULL);
    if (!c)
        abort();
    mtp_msgbox_parse(c, s.data, s.len);
    mtp_msgbox_serialize(c, &t);
    if (t.len != s.len || memcmp(t.data, s.data, s.len))
        abort();
    mtp_msgbox_free(c);
    mtp_buf_free(&s);
    mtp_buf_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 16))
        return 0;
    mtp_msgbox_t *b = mtp_msgbox_new(NULL);
    if (!b)
        return 0;
    mtp_msgbox_set_self(b, 42);
    mtp_usec_t now = MTP_USEC_PER_SEC;
    mtp_msgbox_start(b, now);
    uint32_t tok[2] = { 0, 0 };
    rd_t r = { data, data + size };
    int op, n, k;
    size_t len;
    const uint8_t *p;
    mtp_msgbox_req_t q;
    mtp_msgbox_update_t u;
    mtp_msgbox_params_t prm;
    for (int steps = 0; steps < 2000 && (op = get8(&r)) >= 0; steps++) {
        switch (op % 10) {
        case 0:
            p = take(&r, get16(&r), &len);
            mtp_msgbox_push(b, now, p, len);
            break;
        case 1:
            k = get8(&r) & 1;
            p = take(&r, get16(&r), &len);
            mtp_msgbox_result(b, now, tok[k], p, len);
            break;
        case 2:
            k = get8(&r) & 1;
            mtp_msgbox_failed(b, now, tok[k], get8(&r));
            break;
        case 3:
            n = get16(&r);
            now += (mtp_usec_t)(n < 0 ? 0 : n) * 1000;
            break;
        case 4:
            for (int i = 0; i < 4 && mtp_msgbox_next_request(b, now, &q); i++)
                tok[q.kind == MTP_MSGBOX_REQ_CHANNEL] = q.token;
            if (mtp_msgbox_deadline(b) <= now)
                abort();                /* all that is due was asked for: nothing overdue */
            break;
        case 5:
            mtp_msgbox_lost(b, now);
            break;
        case 6:
            while (mtp_msgbox_pop(b, &u))
                if (!u.update || !u.users || !u.chats)
                    abort();
            break;
        case 7:
            roundtrip(b);
            break;
        case 8:
            mtp_msgbox_reset(b);
            mtp_msgbox_start(b, now);
            break;
        default:
            prm = (mtp_msgbox_params_t){ 0 };
            prm.hold_us = (mtp_usec_t)(get8(&r) & 0xff) * 1000;
            prm.retry_us = (mtp_usec_t)(get8(&r) & 0xff) * 1000;
            prm.pts_limit = get8(&r);
            mtp_msgbox_set_params(b, &prm);
            break;
        }
        mtp_msgbox_info_t i;
        mtp_msgbox_info(b, &i);
        if (i.held > MTP_MSGBOX_MAX_PENDING || i.channels > MTP_MSGBOX_MAX_CHANNELS)
            abort();
    }
    roundtrip(b);
    mtp_msgbox_free(b);
    return 0;
}
