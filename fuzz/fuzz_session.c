/*
 * libFuzzer target: arbitrary decrypted-plaintext messages (msg_id, seq_no, body taken from
 * the input) fed to a client session and a server session, interleaved with calls, replies,
 * pushes, pings, clock jumps, ticks, reconnects and cross-delivery of what the sessions
 * pack. Checks: no crash, no leak, bounded memory, and every client call ends exactly once
 * (verified after a final close).
 *
 * Input: a sequence of records. Each starts with one op byte:
 *   op % 12 == 0,1  feed the client:  u8 flags, i32 dt, i32 seq, u16 len, body[len]
 *   op % 12 == 2,3  feed the server:  same
 *   4  client call: u16 len, body[len]        5  server push of the last body
 *   6  pump: pack both sides and deliver       7  advance the clock: i32 ms
 *   8  client ping                              9  reconnected (both)
 *  10  cancel the oldest call                  11  server reply to the last query
 * flags: bit0 raw msg_id (else from the clock + dt ms), bit1 wrong session_id,
 *        bit2 wrong salt, bit3 wrap the body in a container with a second copy.
 */
#include <mtproto/session.h>

#include <stdlib.h>
#include <string.h>

#define MAX_CALLS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rd {
    const uint8_t *p, *end;
} rd_t;

static uint32_t take(rd_t *r, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint32_t)(r->p < r->end ? *r->p++ : 0) << (8 * i);
    return v;
}

static int rng_fill(void *ctx, uint8_t *out, size_t n)
{
    uint64_t *s = ctx;
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        out[i] = (uint8_t)*s;
    }
    return 0;
}

typedef struct st {
    mtp_session_t *c, *s;
    mtp_usec_t now;
    uint8_t ended[MAX_CALLS + 1];
    int64_t calls;
    int64_t last_query;
    uint8_t last_body[512];
    size_t last_len;
    int64_t oldest;
} st_t;

static void drain(st_t *t)
{
    mtp_session_event_t ev;
    while (mtp_session_next_event(t->c, &ev) == 1)
        if (ev.type == MTP_SESSION_EV_RESULT) {
            if (ev.call_id == 0 || ev.call_id > MAX_CALLS || t->ended[ev.call_id])
                abort();   /* a call ended twice, or an unknown call */
            t->ended[ev.call_id] = 1;
        }
    while (mtp_session_next_event(t->s, &ev) == 1)
        if (ev.type == MTP_SESSION_EV_QUERY)
            t->last_query = ev.msg_id;
}

static void pump(st_t *t)
{
    mtp_session_msg_t m;
    for (int i = 0; i < 16; i++) {
        int moved = 0;
        while (mtp_session_pack(t->c, t->now, &m) == 1) {
            moved = 1;
            mtp_session_feed(t->s, &m, t->now);
        }
        while (mtp_session_pack(t->s, t->now, &m) == 1) {
            moved = 1;
            mtp_session_feed(t->c, &m, t->now);
        }
        drain(t);
        if (!moved)
            break;
    }
}

static void feed_one(st_t *t, mtp_session_t *to, bool server, rd_t *r)
{
    uint8_t flags = (uint8_t)take(r, 1);
    int32_t dt = (int32_t)take(r, 4);
    int32_t seq = (int32_t)take(r, 4);
    size_t len = take(r, 2) % 4096;
    if (len > (size_t)(r->end - r->p))
        len = (size_t)(r->end - r->p);
    len &= ~(size_t)3;
    uint8_t buf[4096 + 64];
    const uint8_t *body = r->p;
    r->p += len;
    int64_t id;
    if (flags & 1) {
        id = (int64_t)((uint64_t)take(r, 4) | (uint64_t)take(r, 4) << 32);
    } else {
        id = mtp_msg_id_from_time(t->now + (mtp_usec_t)(dt % 400000) * 1000);
        id |= server ? 0 : ((dt & 1) ? 3 : 1);   /* a client session expects odd ids */
    }
    size_t n = len;
    if (flags & 8 && len + 40 <= sizeof buf) {
        /* container: the body and an ack, inner ids below the container's */
        uint8_t *p = buf;
        uint32_t hdr[2] = { 0x73f1f8dcu, 2 };
        memcpy(p, hdr, 8);
        p += 8;
        int64_t i1 = id - 8, i2 = id - 4;
        memcpy(p, &i1, 8);
        memcpy(p + 8, &seq, 4);
        uint32_t l = (uint32_t)len;
        memcpy(p + 12, &l, 4);
        memcpy(p + 16, body, len);
        p += 16 + len;
        uint32_t ack[3] = { 0x62d6b459u, 0x1cb5c415u, 0 };
        int32_t s2 = (int32_t)((uint32_t)seq + 1);   /* wraps: seq comes from the input */
        memcpy(p, &i2, 8);
        memcpy(p + 8, &s2, 4);
        l = 12;
        memcpy(p + 12, &l, 4);
        memcpy(p + 16, ack, 12);
        p += 28;
        n = (size_t)(p - buf);
        body = buf;
    }
    mtp_session_msg_t m = { mtp_session_salt(to, t->now) ^ ((flags & 4) ? 1 : 0),
                            mtp_session_id(to) ^ ((flags & 2) ? 1 : 0), id, seq, body, n };
    mtp_session_feed(to, &m, t->now);
    if (len && len <= sizeof t->last_body) {
        memcpy(t->last_body, body, len);
        t->last_len = len;
    }
    drain(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    mtp_rng_t rng = { rng_fill, &seed };
    st_t t;
    memset(&t, 0, sizeof t);
    t.now = 1700000000LL * MTP_USEC_PER_SEC;
    t.oldest = 1;

    mtp_session_config_t cc, sc;
    mtp_session_config_init(&cc, MTP_ROLE_CLIENT);
    cc.rng = &rng;
    cc.server_salt = 0x1111;
    cc.time_synced = (size & 1) != 0;
    cc.replay_window = 64;
    cc.ping_interval = 30 * MTP_USEC_PER_SEC;
    cc.ping_disconnect_delay = 45;
    cc.gzip_cap = 1u << 20;
    cc.future_salts = 4;
    mtp_session_config_init(&sc, MTP_ROLE_SERVER);
    sc.rng = &rng;
    sc.server_salt = 0x1111;
    sc.session_id = 0;
    sc.replay_window = 64;
    sc.gzip_cap = 1u << 20;
    sc.salt_period = 60;
    sc.max_retained_bytes = 1u << 20;
    t.c = mtp_session_new(&cc);
    if (!t.c)
        return 0;
    sc.session_id = mtp_session_id(t.c);
    t.s = mtp_session_new(&sc);
    if (!t.s) {
        mtp_session_free(t.c);
        return 0;
    }

    rd_t r = { data, data + size };
    int steps = 0;
    while (r.p < r.end && steps++ < 400) {
        uint8_t op = (uint8_t)take(&r, 1) % 12;
        switch (op) {
        case 0:
        case 1:
            feed_one(&t, t.c, false, &r);
            break;
        case 2:
        case 3:
            feed_one(&t, t.s, true, &r);
            break;
        case 4: {
            uint32_t flags = take(&r, 1) & 7u;   /* MTP_CALL_ORDERED | NO_GZIP | ALONE */
            size_t len = (take(&r, 2) % 2048) & ~(size_t)3;
            uint8_t body[2048];
            memset(body, 0, sizeof body);
            size_t have = (size_t)(r.end - r.p) < len ? (size_t)(r.end - r.p) : len;
            memcpy(body, r.p, have);
            r.p += have;
            if (len < 4)
                len = 4;
            if (t.calls < MAX_CALLS) {
                int64_t id = mtp_session_call(t.c, body, len, flags, NULL, t.now);
                if (id > 0)
                    t.calls = id;
            }
            break;
        }
        case 5:
            if (t.last_len >= 4)
                mtp_session_push(t.s, t.last_body, t.last_len & ~(size_t)3, t.now);
            break;
        case 6:
            pump(&t);
            break;
        case 7:
            t.now += (mtp_usec_t)(take(&r, 4) % 600000) * 1000;
            mtp_session_tick(t.c, t.now);
            mtp_session_tick(t.s, t.now);
            drain(&t);
            break;
        case 8:
            mtp_session_ping(t.c, (int64_t)take(&r, 4), (int32_t)(take(&r, 1) % 100), t.now);
            break;
        case 9:
            mtp_session_reconnected(t.c, t.now);
            mtp_session_reconnected(t.s, t.now);
            break;
        case 10:
            while (t.oldest <= t.calls && t.ended[t.oldest])
                t.oldest++;
            if (t.oldest <= t.calls)
                mtp_session_cancel(t.c, (uint64_t)t.oldest, t.now);
            drain(&t);
            break;
        case 11:
            if (t.last_query) {
                if (t.last_len >= 4 && (t.last_query & 4))
                    mtp_session_reply(t.s, t.last_query, t.last_body, t.last_len & ~(size_t)3, t.now);
                else
                    mtp_session_reply_error(t.s, t.last_query, 420, "FLOOD_WAIT_3", t.now);
            }
            break;
        }
    }
    pump(&t);
    /* every call ends exactly once */
    mtp_session_close(t.c, MTP_ECLOSED);
    drain(&t);
    for (int64_t i = 1; i <= t.calls; i++)
        if (!t.ended[i])
            abort();
    mtp_session_free(t.c);
    mtp_session_free(t.s);
    return 0;
}
