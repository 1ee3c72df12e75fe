/*
 * libmtproto — MTProto TCP transport codecs: abridged, intermediate, padded
 * intermediate, full, each optionally inside obfuscated2; client and server roles;
 * server-side auto-detection. Sans-IO (see include/mtproto/transport.h).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <mtproto/transport.h>
#include "proto/transport_internal.h"

#define RX_MIN_CAP 4096

static int die(mtp_transport_t *t, int rc)
{
    t->priv_dead = rc;
    return rc;
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths; feed large buffers in pieces */
    while (n > 0) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

static uint32_t tag_of_kind(mtp_transport_kind_t kind)
{
    switch (kind) {
    case MTP_TRANSPORT_ABRIDGED:     return MTP_OBFS2_TAG_ABRIDGED;
    case MTP_TRANSPORT_INTERMEDIATE: return MTP_OBFS2_TAG_INTERMEDIATE;
    case MTP_TRANSPORT_PADDED:       return MTP_OBFS2_TAG_PADDED;
    default:                         return 0;
    }
}

const char *mtp_transport_kind_name(mtp_transport_kind_t kind)
{
    switch (kind) {
    case MTP_TRANSPORT_ABRIDGED:     return "abridged";
    case MTP_TRANSPORT_INTERMEDIATE: return "intermediate";
    case MTP_TRANSPORT_PADDED:       return "padded";
    case MTP_TRANSPORT_FULL:         return "full";
    default:                         return "unknown";
    }
}

/* ---------------- setup ---------------- */

static void base_init(mtp_transport_t *t, mtp_role_t role, const mtp_rng_t *rng)
{
    memset(t, 0, sizeof *t);
    t->priv_role = role;
    t->priv_kind = MTP_TRANSPORT_UNKNOWN;
    t->priv_rng = rng;
    t->priv_max = MTP_TRANSPORT_DEFAULT_MAX_PACKET;
}

int mtp_transport_init_client(mtp_transport_t *t, mtp_transport_kind_t kind, bool obfuscated,
                              int dc_id, const mtp_proxy_secret_t *secret,
                              const mtp_rng_t *rng)
{
    if (!t)
        return MTP_EINVAL;
    if (kind != MTP_TRANSPORT_ABRIDGED && kind != MTP_TRANSPORT_INTERMEDIATE &&
        kind != MTP_TRANSPORT_PADDED && kind != MTP_TRANSPORT_FULL)
        return MTP_EINVAL;
    if (obfuscated && kind == MTP_TRANSPORT_FULL)
        return MTP_EINVAL;
    if (dc_id < INT16_MIN || dc_id > INT16_MAX)
        return MTP_EINVAL;
    const uint8_t *key = NULL;
    int skind = MTP_PROXY_SECRET_NONE;
    if (secret && secret->kind != MTP_PROXY_SECRET_NONE) {
        if (!obfuscated)
            return MTP_EINVAL;
        switch (secret->kind) {
        case MTP_PROXY_SECRET_PLAIN:
            break;
        case MTP_PROXY_SECRET_PADDED:
            if (kind != MTP_TRANSPORT_PADDED)
                return MTP_EINVAL;
            break;
        default:                        /* FakeTLS: not implemented */
            return MTP_EINVAL;
        }
        key = secret->key;
        skind = secret->kind;
    }

    base_init(t, MTP_ROLE_CLIENT, rng);
    t->priv_kind = kind;
    t->priv_secret_kind = skind;
    if (key)
        memcpy(t->priv_secret, key, 16);

    if (obfuscated) {
        int rc = mtp_obfs2_client_setup_(rng, tag_of_kind(kind), dc_id, key, &t->priv_enc,
                                         &t->priv_dec, t->priv_prefix);
        if (rc) {
            mtp_secure_zero(t, sizeof *t);
            return rc;
        }
        t->priv_prefix_len = 64;
        t->priv_obfs = 1;
        t->priv_dc = dc_id;
        return 0;
    }
    switch (kind) {
    case MTP_TRANSPORT_ABRIDGED:
        t->priv_prefix[0] = 0xef;
        t->priv_prefix_len = 1;
        break;
    case MTP_TRANSPORT_INTERMEDIATE:
        memset(t->priv_prefix, 0xee, 4);
        t->priv_prefix_len = 4;
        break;
    case MTP_TRANSPORT_PADDED:
        memset(t->priv_prefix, 0xdd, 4);
        t->priv_prefix_len = 4;
        break;
    default:
        break;
    }
    return 0;
}

int mtp_transport_init_server(mtp_transport_t *t, const mtp_proxy_secret_t *secret,
                              const mtp_rng_t *rng)
{
    if (!t)
        return MTP_EINVAL;
    int skind = MTP_PROXY_SECRET_NONE;
    if (secret && secret->kind != MTP_PROXY_SECRET_NONE) {
        if (secret->kind != MTP_PROXY_SECRET_PLAIN && secret->kind != MTP_PROXY_SECRET_PADDED)
            return MTP_EINVAL;          /* FakeTLS: not implemented */
        skind = secret->kind;
    }
    base_init(t, MTP_ROLE_SERVER, rng);
    t->priv_secret_kind = skind;
    if (skind != MTP_PROXY_SECRET_NONE)
        memcpy(t->priv_secret, secret->key, 16);
    return 0;
}

void mtp_transport_free(mtp_transport_t *t)
{
    if (!t)
        return;
    if (t->priv_rx)
        mtp_secure_zero(t->priv_rx, t->priv_rx_hw);
    free(t->priv_rx);
    mtp_aes_ctr_free(&t->priv_enc);
    mtp_aes_ctr_free(&t->priv_dec);
    mtp_secure_zero(t, sizeof *t);
}

int mtp_transport_set_max_packet(mtp_transport_t *t, size_t max_payload)
{
    if (!t || max_payload < 4 || max_payload > MTP_TRANSPORT_MAX_PACKET_LIMIT)
        return MTP_EINVAL;
    t->priv_max = max_payload;
    return 0;
}

mtp_role_t mtp_transport_role(const mtp_transport_t *t)
{
    return (mtp_role_t)t->priv_role;
}

mtp_transport_kind_t mtp_transport_kind(const mtp_transport_t *t)
{
    return (mtp_transport_kind_t)t->priv_kind;
}

bool mtp_transport_obfuscated(const mtp_transport_t *t)
{
    return t->priv_obfs != 0;
}

int mtp_transport_dc_id(const mtp_transport_t *t)
{
    return t->priv_obfs ? t->priv_dc : 0;
}

int mtp_transport_error(const mtp_transport_t *t)
{
    return t->priv_dead;
}

bool mtp_transport_quick_ack_supported(const mtp_transport_t *t)
{
    return t->priv_kind == MTP_TRANSPORT_ABRIDGED || t->priv_kind == MTP_TRANSPORT_INTERMEDIATE ||
           t->priv_kind == MTP_TRANSPORT_PADDED;
}

size_t mtp_transport_pending(const mtp_transport_t *t)
{
    return t->priv_rx_end - t->priv_rx_start;
}

/* ---------------- receiving ---------------- */

/* Make room for n more input bytes at priv_rx + priv_rx_end (compacting or growing). */
static int rx_room(mtp_transport_t *t, size_t n)
{
    size_t pending = t->priv_rx_end - t->priv_rx_start;
    if (pending == 0)
        t->priv_rx_start = t->priv_rx_end = 0;
    if (t->priv_rx_cap - t->priv_rx_end < n) {
        if (t->priv_rx_start > 0) {
            memmove(t->priv_rx, t->priv_rx + t->priv_rx_start, pending);
            t->priv_rx_start = 0;
            t->priv_rx_end = pending;
        }
        if (t->priv_rx_cap - t->priv_rx_end < n) {
            if (n > SIZE_MAX / 4 - pending)
                return MTP_ENOMEM;
            size_t need = pending + n;
            size_t cap = t->priv_rx_cap ? t->priv_rx_cap : RX_MIN_CAP;
            while (cap < need)
                cap *= 2;
            /* by hand rather than realloc: the old block is wiped before it is freed
             * (packets may have been decrypted in it) */
            uint8_t *p = malloc(cap);
            if (!p)
                return MTP_ENOMEM;
            if (t->priv_rx) {
                memcpy(p, t->priv_rx, t->priv_rx_end);
                mtp_secure_zero(t->priv_rx, t->priv_rx_hw);
                free(t->priv_rx);
            }
            t->priv_rx = p;
            t->priv_rx_hw = t->priv_rx_end;
            t->priv_rx_cap = cap;
        }
    }
    return 0;
}

/* The n bytes at priv_rx + priv_rx_end are new input. */
static int rx_commit(mtp_transport_t *t, size_t n)
{
    uint8_t *dst = t->priv_rx + t->priv_rx_end;
    if (t->priv_obfs) {
        int rc = mtp_aes_ctr_apply(&t->priv_dec, dst, dst, n);
        if (rc)
            return die(t, rc);
    }
    t->priv_rx_end += n;
    if (t->priv_rx_end > t->priv_rx_hw)
        t->priv_rx_hw = t->priv_rx_end;
    return 0;
}

int mtp_transport_feed(mtp_transport_t *t, const uint8_t *data, size_t n)
{
    if (!t)
        return MTP_EINVAL;
    if (t->priv_dead)
        return t->priv_dead;
    if (n == 0)
        return 0;
    if (!data)
        return MTP_EINVAL;
    int rc = rx_room(t, n);
    if (rc)
        return rc;
    memcpy(t->priv_rx + t->priv_rx_end, data, n);
    return rx_commit(t, n);
}

int mtp_transport_rx_space(mtp_transport_t *t, size_t want, uint8_t **ptr, size_t *cap)
{
    if (!t || !ptr || !cap || want == 0)
        return MTP_EINVAL;
    if (t->priv_dead)
        return t->priv_dead;
    int rc = rx_room(t, want);
    if (rc)
        return rc;
    *ptr = t->priv_rx + t->priv_rx_end;
    *cap = t->priv_rx_cap - t->priv_rx_end;
    return 0;
}

int mtp_transport_rx_commit(mtp_transport_t *t, size_t n)
{
    if (!t)
        return MTP_EINVAL;
    if (t->priv_dead)
        return t->priv_dead;
    if (n > t->priv_rx_cap - t->priv_rx_end)
        return MTP_EINVAL;
    if (n == 0)
        return 0;
    return rx_commit(t, n);
}

/* Fill ev with one received payload (interpreting 4-byte error payloads, client role). */
static void deliver(const mtp_transport_t *t, const uint8_t *p, size_t len, bool qa,
                    mtp_transport_event_t *ev)
{
    if (t->priv_role == MTP_ROLE_CLIENT && len == 4 && (int32_t)mtp_get_le32(p) < 0) {
        ev->type = MTP_TRANSPORT_EV_ERROR;
        ev->code = (int32_t)mtp_get_le32(p);
        return;
    }
    ev->type = MTP_TRANSPORT_EV_PACKET;
    ev->data = p;
    ev->len = len;
    ev->quick_ack = qa;
}

/* Each parser: 1 = event (and *used = bytes consumed), 0 = need more, < 0 = error. */

static int parse_abridged(const mtp_transport_t *t, const uint8_t *p, size_t avail,
                          mtp_transport_event_t *ev, size_t *used)
{
    if (avail < 1)
        return 0;
    unsigned b = p[0];
    bool qa = false;
    if (b & 0x80) {
        if (t->priv_role == MTP_ROLE_CLIENT) {
            /* quick ack: 4 bytes big-endian, bit 31 set */
            if (avail < 4)
                return 0;
            ev->type = MTP_TRANSPORT_EV_QUICK_ACK;
            ev->token = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            *used = 4;
            return 1;
        }
        qa = true;
        b &= 0x7f;
    }
    size_t words, hdr;
    if (b == 0x7f) {
        if (avail < 4)
            return 0;
        words = (size_t)p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16;
        hdr = 4;
    } else {
        words = b;
        hdr = 1;
    }
    size_t len = words * 4;
    if (len == 0 || len > t->priv_max)
        return MTP_ETRANSPORT;
    if (avail - hdr < len)
        return 0;
    deliver(t, p + hdr, len, qa, ev);
    *used = hdr + len;
    return 1;
}

/* Padded intermediate: recover the payload length from the MTProto structure. */
static int padded_payload_len(const uint8_t *q, size_t total, size_t *plen)
{
    if (total < 20) {
        /* too short for any MTProto packet: a 4-byte control payload (transport error)
         * followed by padding */
        *plen = 4;
        return 0;
    }
    static const uint8_t zero8[8];
    if (memcmp(q, zero8, 8) == 0) {
        /* unencrypted: auth_key_id(8) msg_id(8) message_data_length(4) data */
        uint32_t mdl = mtp_get_le32(q + 16);
        if (mdl > total - 20 || total - 20 - mdl > 15)
            return MTP_ETRANSPORT;
        *plen = 20 + (size_t)mdl;
        return 0;
    }
    /* encrypted: auth_key_id(8) msg_key(16) + 16k bytes */
    if (total < 24)
        return MTP_ETRANSPORT;
    *plen = total - (total - 24) % 16;
    return 0;
}

static int parse_intermediate(const mtp_transport_t *t, const uint8_t *p, size_t avail,
                              mtp_transport_event_t *ev, size_t *used)
{
    if (avail < 4)
        return 0;
    uint32_t w = mtp_get_le32(p);
    bool qa = false;
    if (w & 0x80000000u) {
        if (t->priv_role == MTP_ROLE_CLIENT) {
            ev->type = MTP_TRANSPORT_EV_QUICK_ACK;
            ev->token = w;
            *used = 4;
            return 1;
        }
        qa = true;
        w &= 0x7fffffffu;
    }
    size_t len = w;
    bool padded = t->priv_kind == MTP_TRANSPORT_PADDED;
    if (padded) {
        if (len < 4 || len > t->priv_max + 15)
            return MTP_ETRANSPORT;
    } else {
        if (len == 0 || len % 4 != 0 || len > t->priv_max)
            return MTP_ETRANSPORT;
    }
    if (avail - 4 < len)
        return 0;
    size_t plen = len;
    if (padded) {
        int rc = padded_payload_len(p + 4, len, &plen);
        if (rc)
            return rc;
        if (plen > t->priv_max)
            return MTP_ETRANSPORT;
    }
    deliver(t, p + 4, plen, qa, ev);
    *used = 4 + len;
    return 1;
}

static bool full_len_ok(const mtp_transport_t *t, uint32_t len)
{
    return len % 4 == 0 && len >= 16 && (size_t)len - 12 <= t->priv_max;
}

static int parse_full(mtp_transport_t *t, const uint8_t *p, size_t avail,
                      mtp_transport_event_t *ev, size_t *used)
{
    if (avail < 4)
        return 0;
    uint32_t len = mtp_get_le32(p);
    if ((int32_t)len < 0) {
        if (t->priv_role == MTP_ROLE_SERVER)
            return MTP_ETRANSPORT;      /* no quick acks / errors from a client */
        /* a bare transport error word (no seqno / crc) */
        ev->type = MTP_TRANSPORT_EV_ERROR;
        ev->code = (int32_t)len;
        *used = 4;
        return 1;
    }
    if (!full_len_ok(t, len))
        return MTP_ETRANSPORT;
    if (avail >= 8 && mtp_get_le32(p + 4) != t->priv_rx_seq)
        return MTP_ETRANSPORT;
    if (avail < len)
        return 0;
    if (crc32_of(p, len - 4) != mtp_get_le32(p + len - 4))
        return MTP_ETRANSPORT;
    t->priv_rx_seq++;
    deliver(t, p + 8, len - 12, false, ev);
    *used = len;
    return 1;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* Server auto-detection: 1 = decided (kind set, tag consumed), 0 = need more, < 0. */
static int detect(mtp_transport_t *t)
{
    size_t avail = t->priv_rx_end - t->priv_rx_start;
    bool secret = t->priv_secret_kind != MTP_PROXY_SECRET_NONE;

    if (avail == 0)
        return 0;
    const uint8_t *p = t->priv_rx + t->priv_rx_start;
    if (p[0] == 0xef) {
        if (secret)
            return MTP_ETRANSPORT;
        t->priv_kind = MTP_TRANSPORT_ABRIDGED;
        t->priv_rx_start += 1;
        return 1;
    }
    if (!secret) {
        size_t k = avail < 4 ? avail : 4;
        if (all_bytes(p, k, 0xee)) {
            if (k < 4)
                return 0;
            t->priv_kind = MTP_TRANSPORT_INTERMEDIATE;
            t->priv_rx_start += 4;
            return 1;
        }
        if (all_bytes(p, k, 0xdd)) {
            if (k < 4)
                return 0;
            t->priv_kind = MTP_TRANSPORT_PADDED;
            t->priv_rx_start += 4;
            return 1;
        }
    }
    if (avail >= 4 && mtp_obfs2_forbidden_word_(p))
        return MTP_ETRANSPORT;
    if (avail >= 8 && all_bytes(p + 4, 4, 0)) {
        /* zero seqno: full transport (never an obfuscated init) */
        if (secret || !full_len_ok(t, mtp_get_le32(p)))
            return MTP_ETRANSPORT;
        t->priv_kind = MTP_TRANSPORT_FULL;
        return 1;
    }
    if (avail < 64)
        return 0;

    uint32_t tag;
    int dc;
    int rc = mtp_obfs2_server_accept_(p, secret ? t->priv_secret : NULL, &t->priv_enc,
                                      &t->priv_dec, &tag, &dc);
    if (rc)
        return rc;
    if (t->priv_secret_kind == MTP_PROXY_SECRET_PADDED && tag != MTP_OBFS2_TAG_PADDED) {
        mtp_aes_ctr_free(&t->priv_enc);
        mtp_aes_ctr_free(&t->priv_dec);
        return MTP_ETRANSPORT;
    }
    t->priv_kind = tag == MTP_OBFS2_TAG_ABRIDGED     ? MTP_TRANSPORT_ABRIDGED
                 : tag == MTP_OBFS2_TAG_INTERMEDIATE ? MTP_TRANSPORT_INTERMEDIATE
                                                     : MTP_TRANSPORT_PADDED;
    t->priv_obfs = 1;
    t->priv_dc = dc;
    t->priv_rx_start += 64;
    /* decrypt whatever arrived after the init; later bytes are decrypted by feed() */
    size_t rest = t->priv_rx_end - t->priv_rx_start;
    if (rest) {
        uint8_t *q = t->priv_rx + t->priv_rx_start;
        rc = mtp_aes_ctr_apply(&t->priv_dec, q, q, rest);
        if (rc)
            return rc;
    }
    return 1;
}

int mtp_transport_next(mtp_transport_t *t, mtp_transport_event_t *ev)
{
    if (!t || !ev)
        return MTP_EINVAL;
    memset(ev, 0, sizeof *ev);
    if (t->priv_dead)
        return t->priv_dead;
    if (t->priv_kind == MTP_TRANSPORT_UNKNOWN) {
        int rc = detect(t);
        if (rc < 0)
            return die(t, rc);
        if (rc == 0)
            return 0;
    }
    size_t avail = t->priv_rx_end - t->priv_rx_start;
    size_t used = 0;
    int rc;
    if (avail == 0)
        return 0;
    const uint8_t *p = t->priv_rx + t->priv_rx_start;
    switch (t->priv_kind) {
    case MTP_TRANSPORT_ABRIDGED:
        rc = parse_abridged(t, p, avail, ev, &used);
        break;
    case MTP_TRANSPORT_INTERMEDIATE:
    case MTP_TRANSPORT_PADDED:
        rc = parse_intermediate(t, p, avail, ev, &used);
        break;
    case MTP_TRANSPORT_FULL:
        rc = parse_full(t, p, avail, ev, &used);
        break;
    default:
        rc = MTP_ESTATE;
        break;
    }
    if (rc < 0) {
        memset(ev, 0, sizeof *ev);
        return die(t, rc);
    }
    if (rc == 0) {
        memset(ev, 0, sizeof *ev);
        return 0;
    }
    t->priv_rx_start += used;
    return 1;
}

/* ---------------- sending ---------------- */

/* Append the client's pending tag / obfuscated init (already in wire form). */
static void put_prefix(mtp_transport_t *t, mtp_buf_t *out)
{
    if (t->priv_prefix_len) {
        memcpy(out->data + out->len, t->priv_prefix, t->priv_prefix_len);
        out->len += t->priv_prefix_len;
    }
}

static int encrypt_tail(mtp_transport_t *t, mtp_buf_t *out, size_t from)
{
    if (!t->priv_obfs || out->len == from)
        return 0;
    return mtp_aes_ctr_apply(&t->priv_enc, out->data + from, out->data + from, out->len - from);
}

/*
 * The common framer, in two halves so that a payload can be produced in place (the
 * connection seals packets straight into its output buffer). begin: header, room for the
 * payload, padding; end: the CRC (full) and the obfuscation over the frame. Frames must be
 * ended in the order they were begun (the CTR stream and the full kind's seqno run on).
 * nopad: padded kind without padding (transport errors).
 */
static int frame_begin(mtp_transport_t *t, size_t len, bool qa, bool nopad, mtp_buf_t *out,
                       mtp_transport_slot_t *slot)
{
    uint8_t hdr[8], pad[16];
    size_t hlen = 0, padlen = 0;
    int rc;

    switch (t->priv_kind) {
    case MTP_TRANSPORT_ABRIDGED: {
        size_t words = len / 4;
        if (words < 0x7f) {
            hdr[0] = (uint8_t)(words | (qa ? 0x80u : 0));
            hlen = 1;
        } else {
            hdr[0] = qa ? 0xff : 0x7f;
            hdr[1] = (uint8_t)words;
            hdr[2] = (uint8_t)(words >> 8);
            hdr[3] = (uint8_t)(words >> 16);
            hlen = 4;
        }
        break;
    }
    case MTP_TRANSPORT_INTERMEDIATE:
        mtp_put_le32(hdr, (uint32_t)len | (qa ? 0x80000000u : 0));
        hlen = 4;
        break;
    case MTP_TRANSPORT_PADDED:
        if (!nopad) {
            rc = mtp_rand(t->priv_rng, pad, 1);
            if (rc)
                return rc;
            padlen = pad[0] & 15u;
            if (padlen && (rc = mtp_rand(t->priv_rng, pad, padlen)) != 0)
                return rc;
        }
        mtp_put_le32(hdr, (uint32_t)(len + padlen) | (qa ? 0x80000000u : 0));
        hlen = 4;
        break;
    case MTP_TRANSPORT_FULL:
        mtp_put_le32(hdr, (uint32_t)(len + 12));
        mtp_put_le32(hdr + 4, t->priv_tx_seq);
        hlen = 8;
        break;
    default:
        return MTP_ESTATE;
    }

    if (out->err)
        return out->err;
    size_t crc = t->priv_kind == MTP_TRANSPORT_FULL ? 4 : 0;
    size_t total = t->priv_prefix_len + hlen + len + padlen + crc;
    if ((rc = mtp_buf_reserve(out, total)) != 0)
        return rc;

    put_prefix(t, out);
    slot->from = out->len;
    memcpy(out->data + out->len, hdr, hlen);
    slot->payload = out->len + hlen;
    slot->len = len;
    if (padlen)
        memcpy(out->data + slot->payload + len, pad, padlen);
    slot->end = slot->payload + len + padlen + crc;
    out->len = slot->end;
    if (t->priv_kind == MTP_TRANSPORT_FULL)
        t->priv_tx_seq++;
    t->priv_prefix_len = 0;
    return 0;
}

static int frame_end(mtp_transport_t *t, mtp_buf_t *out, const mtp_transport_slot_t *slot)
{
    if (t->priv_kind == MTP_TRANSPORT_FULL) {
        uint32_t crc = crc32_of(out->data + slot->from, slot->end - 4 - slot->from);
        mtp_put_le32(out->data + slot->end - 4, crc);
    }
    if (!t->priv_obfs)
        return 0;
    return mtp_aes_ctr_apply(&t->priv_enc, out->data + slot->from, out->data + slot->from,
                             slot->end - slot->from);
}

static int frame_packet(mtp_transport_t *t, const uint8_t *payload, size_t len, bool qa,
                        bool nopad, mtp_buf_t *out)
{
    mtp_transport_slot_t slot;
    size_t old = out->len;
    uint32_t seq = t->priv_tx_seq;
    size_t prefix = t->priv_prefix_len;
    int rc = frame_begin(t, len, qa, nopad, out, &slot);
    if (rc)
        return rc;
    if (len)
        memcpy(out->data + slot.payload, payload, len);
    rc = frame_end(t, out, &slot);
    if (rc) {
        out->len = old;
        t->priv_tx_seq = seq;
        t->priv_prefix_len = prefix;
    }
    return rc;
}

static int check_frame_args(mtp_transport_t *t, size_t len, unsigned flags)
{
    if (flags & ~MTP_TRANSPORT_QUICK_ACK)
        return MTP_EINVAL;
    if (t->priv_kind == MTP_TRANSPORT_UNKNOWN)
        return t->priv_role == MTP_ROLE_SERVER ? MTP_ESTATE : MTP_EINVAL;
    if (len % 4 != 0 || len > t->priv_max)
        return MTP_EINVAL;
    bool qa = (flags & MTP_TRANSPORT_QUICK_ACK) != 0;
    if (qa && (t->priv_role != MTP_ROLE_CLIENT || t->priv_kind == MTP_TRANSPORT_FULL))
        return MTP_EINVAL;
    return 0;
}

int mtp_transport_frame_begin(mtp_transport_t *t, size_t len, unsigned flags, mtp_buf_t *out,
                              mtp_transport_slot_t *slot)
{
    if (!t || !out || !slot)
        return MTP_EINVAL;
    int rc = check_frame_args(t, len, flags);
    if (rc)
        return rc;
    return frame_begin(t, len, (flags & MTP_TRANSPORT_QUICK_ACK) != 0, false, out, slot);
}

int mtp_transport_frame_end(mtp_transport_t *t, mtp_buf_t *out, const mtp_transport_slot_t *slot)
{
    if (!t || !out || !slot || slot->end > out->len || slot->from > slot->payload ||
        slot->payload + slot->len > slot->end)
        return MTP_EINVAL;
    return frame_end(t, out, slot);
}

int mtp_transport_frame(mtp_transport_t *t, const uint8_t *payload, size_t len,
                        unsigned flags, mtp_buf_t *out)
{
    if (!t || !out || (!payload && len))
        return MTP_EINVAL;
    int rc = check_frame_args(t, len, flags);
    if (rc)
        return rc;
    return frame_packet(t, payload, len, (flags & MTP_TRANSPORT_QUICK_ACK) != 0, false, out);
}

int mtp_transport_handshake(mtp_transport_t *t, mtp_buf_t *out)
{
    if (!t || !out)
        return MTP_EINVAL;
    if (t->priv_prefix_len == 0)
        return 0;
    int rc = mtp_buf_append(out, t->priv_prefix, t->priv_prefix_len);
    if (rc)
        return rc;
    t->priv_prefix_len = 0;
    return 0;
}

int mtp_transport_frame_quick_ack(mtp_transport_t *t, uint32_t token, mtp_buf_t *out)
{
    if (!t || !out || t->priv_role != MTP_ROLE_SERVER)
        return MTP_EINVAL;
    if (t->priv_kind == MTP_TRANSPORT_UNKNOWN)
        return MTP_ESTATE;
    if (!mtp_transport_quick_ack_supported(t))
        return MTP_EINVAL;
    token |= 0x80000000u;
    uint8_t w[4];
    if (t->priv_kind == MTP_TRANSPORT_ABRIDGED) {
        w[0] = (uint8_t)(token >> 24);
        w[1] = (uint8_t)(token >> 16);
        w[2] = (uint8_t)(token >> 8);
        w[3] = (uint8_t)token;
    } else {
        mtp_put_le32(w, token);
    }
    size_t old = out->len;
    int rc = mtp_buf_append(out, w, 4);
    if (rc)
        return rc;
    rc = encrypt_tail(t, out, old);
    if (rc)
        out->len = old;
    return rc;
}

int mtp_transport_frame_error(mtp_transport_t *t, int32_t code, mtp_buf_t *out)
{
    if (!t || !out || t->priv_role != MTP_ROLE_SERVER || code >= 0)
        return MTP_EINVAL;
    if (t->priv_kind == MTP_TRANSPORT_UNKNOWN)
        return MTP_ESTATE;
    uint8_t w[4];
    mtp_put_le32(w, (uint32_t)code);
    return frame_packet(t, w, 4, false, true, out);
}
