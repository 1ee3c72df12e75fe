/*
 * libmtproto — MTProto TCP transports (sans-IO framing codecs).
 *
 * One mtp_transport_t per TCP connection. It frames outgoing MTProto packets and
 * unframes incoming ones for either role (client or server); the two roles share the
 * same framing code. No I/O, no clock, no globals: bytes go in with
 * mtp_transport_feed(), events come out of mtp_transport_next(), and frames to send are
 * appended to a caller buffer by mtp_transport_frame*(). See PROTOCOL.md §2.
 *
 * Transports ("kinds"):
 *   abridged      tag 0xef; header 1 byte len/4 (< 127) or 0x7f + 3-byte LE len/4
 *   intermediate  tag ee ee ee ee; header 4-byte LE length
 *   padded        tag dd dd dd dd; header 4-byte LE length of payload + 0..15 random bytes
 *   full          no tag; len(4, = payload+12) + seqno(4) + payload + crc32(4), all LE
 * and obfuscated2 around abridged / intermediate / padded (never full): a 64-byte
 * random init whose bytes 56..59 carry the inner tag, followed by an AES-256-CTR stream
 * in each direction, optionally keyed with an MTProxy secret.
 *
 * ---- Client role ----
 *   mtp_transport_init_client() picks the kind; the tag (or the 64-byte obfuscated init,
 *   drawn from the RNG at init time) is prepended to the first frame (or emitted
 *   explicitly with mtp_transport_handshake()).
 *
 * ---- Server role: auto-detection ----
 *   mtp_transport_init_server() accepts whatever the client speaks and decides as soon
 *   as the first bytes allow (each rule is unambiguous because of the obfuscation rules
 *   of PROTOCOL.md §2.7):
 *     byte 0 == 0xef                                   -> abridged        (1 byte)
 *     bytes 0..3 == ee ee ee ee                        -> intermediate    (4 bytes)
 *     bytes 0..3 == dd dd dd dd                        -> padded          (4 bytes)
 *     bytes 4..7 == 00 00 00 00                        -> full if bytes 0..3 are a valid
 *         full length (multiple of 4, 16 <= len <= max_packet + 12), else error (8 bytes);
 *         an obfuscated init never has zero bytes 4..7
 *     bytes 0..3 == "HEAD" "POST" "GET " "OPTI" 16 03 01 02 -> error (HTTP/TLS is not
 *         spoken here; an obfuscated init never starts so)
 *     otherwise, at 64 bytes: derive the obfuscation keys (with the configured secret),
 *         decrypt the init; tag at 56..59 efefefef / eeeeeeee / dddddddd -> obfuscated
 *         abridged / intermediate / padded, DC id = int16 LE at 60; any other tag -> error.
 *   A full-transport or plain-tag prefix that is still incomplete (e.g. "ee ee") simply
 *   waits. With a secret configured only obfuscated connections using that secret are
 *   accepted (plain tags and full -> error); with a 0xdd secret the inner tag must be dd.
 *   mtp_transport_kind() / mtp_transport_obfuscated() / mtp_transport_dc_id() report the
 *   result once detected.
 *
 * ---- Receiving ----
 *   mtp_transport_feed() takes stream bytes in any split (one byte at a time works);
 *   mtp_transport_next() returns one event per call: a packet (a slice into the
 *   transport's own input buffer, valid until the next feed/next/free call), a quick ack
 *   (client role), a transport error code sent by the peer (client role), or "need
 *   more". Call next() until it returns 0 after every feed(). Framing violations (bad
 *   tag, zero length, length not a multiple of 4 where required, length above the
 *   configured maximum, bad CRC or seqno in full, malformed padded packet) return
 *   MTP_ETRANSPORT; the receive side is then dead: every later feed()/next() returns the
 *   same error (sticky). Truncated input is not an error: it is "need more" until more
 *   bytes come.
 *
 *   The input buffer is allocated once per connection and grows to the largest packet
 *   (plus whatever the caller feeds without draining); there is no allocation per
 *   packet in the steady state. Obfuscated input is decrypted in place as it is fed.
 *
 * ---- Transport errors (PROTOCOL.md §2.6) ----
 *   Client role: a packet whose payload is exactly 4 bytes holding a negative int32 is
 *   reported as MTP_TRANSPORT_EV_ERROR with that code (-404, -429, -444, -403, ...)
 *   instead of a packet. In full, a bare negative first word (no seqno/CRC, as some
 *   servers send it) is accepted as well. Other 4-byte payloads are delivered as packets.
 *   The server role never interprets payloads. Errors from the peer are not sticky: the
 *   caller decides (normally it closes the connection).
 *   Server role: mtp_transport_frame_error() sends the code as a normal 4-byte-payload
 *   frame in every kind (padded: no padding; full: a complete len/seqno/crc packet).
 *
 * ---- Quick ack (PROTOCOL.md §2.5) ----
 *   Client: pass MTP_TRANSPORT_QUICK_ACK to mtp_transport_frame(); it sets bit 31 of the
 *   length word (intermediate/padded) or bit 7 of the first header byte (abridged: 0x80 |
 *   len/4, or 0xff + 3 bytes for the long form).
 *   Server: such a packet is delivered with ev.quick_ack = true. The session/envelope
 *   layer computes the token from the packet it decrypted, e.g. with
 *   mtp_transport_quick_ack_token(msg_key_large) (msg_key_large from
 *   mtp_msg_key2_large(auth_key, 0, plaintext, len, ...)), and sends it with
 *   mtp_transport_frame_quick_ack(): intermediate/padded -> the token as a bare LE length
 *   word (bit 31 set, no body); abridged -> the 4 token bytes big-endian (first byte has
 *   bit 7 set, never a valid abridged length byte).
 *   Client: such a word is reported as MTP_TRANSPORT_EV_QUICK_ACK with ev.token (bit 31
 *   set, same value the server computed); compare it with the token of a sent packet.
 *   Full transport: quick acks are NOT supported (no unambiguous encoding exists: a bare
 *   negative word is a transport error there). MTP_TRANSPORT_QUICK_ACK and
 *   mtp_transport_frame_quick_ack() return MTP_EINVAL on full, and a server receiving a
 *   full length word with bit 31 set treats it as a framing error.
 *
 * ---- MTProxy secrets ----
 *   mtp_proxy_secret_parse(): 16 bytes = plain obfuscated2 key (any inner kind);
 *   0xdd + 16 bytes = "secured" (padded intermediate required); 0xee + 16 bytes + domain
 *   (>= 18 bytes) = FakeTLS. FakeTLS parses (key and domain are reported) but is NOT
 *   implemented: mtp_transport_init_client()/init_server() return MTP_EINVAL for it. It
 *   needs a TLS-1.3-looking ClientHello/ServerHello exchange with HMAC-SHA256 randoms and
 *   TLS record wrapping of the obfuscated stream (PROTOCOL.md §2.7); future work.
 *   A 17-byte secret starting 0xee is rejected (some clients treat it as "secured"; tdlib
 *   does not).
 *
 * Thread safety: one transport object must be used by one thread at a time.
 */
#ifndef MTPROTO_TRANSPORT_H
#define MTPROTO_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default bound on one payload (the MTProto packet, without transport header/padding). */
#define MTP_TRANSPORT_DEFAULT_MAX_PACKET ((size_t)16 * 1024 * 1024 + 4096)
/* Hard upper bound for mtp_transport_set_max_packet() (abridged can express 64 MiB - 4). */
#define MTP_TRANSPORT_MAX_PACKET_LIMIT   ((size_t)64 * 1024 * 1024 - 4)

typedef enum mtp_transport_kind {
    MTP_TRANSPORT_UNKNOWN = 0,        /* server role before detection */
    MTP_TRANSPORT_ABRIDGED = 1,
    MTP_TRANSPORT_INTERMEDIATE = 2,
    MTP_TRANSPORT_PADDED = 3,         /* padded intermediate */
    MTP_TRANSPORT_FULL = 4
} mtp_transport_kind_t;

/* The transport's role is an mtp_role_t (common.h), like every layer's. */

/* ---- MTProxy secrets ---- */

typedef enum mtp_proxy_secret_kind {
    MTP_PROXY_SECRET_NONE = 0,
    MTP_PROXY_SECRET_PLAIN = 1,      /* 16-byte key */
    MTP_PROXY_SECRET_PADDED = 2,     /* 0xdd + key: padded intermediate required */
    MTP_PROXY_SECRET_FAKETLS = 3     /* 0xee + key + domain: not implemented (see above) */
} mtp_proxy_secret_kind_t;

#define MTP_PROXY_SECRET_DOMAIN_MAX 255

typedef struct mtp_proxy_secret {
    mtp_proxy_secret_kind_t kind;
    uint8_t key[16];
    size_t domain_len;                               /* FakeTLS only */
    char domain[MTP_PROXY_SECRET_DOMAIN_MAX + 1];    /* FakeTLS SNI, NUL-terminated */
} mtp_proxy_secret_t;

/* Parse a binary secret (see the header comment). MTP_EINVAL for any other length /
 * prefix, or a FakeTLS domain longer than 255 bytes. */
int mtp_proxy_secret_parse(mtp_proxy_secret_t *s, const uint8_t *raw, size_t len);

/* Parse a secret as written in tg://proxy links: hex (any case), or base64 / base64url
 * (padding optional). Hex is tried first. MTP_EINVAL if neither decodes to a valid
 * secret. text need not be NUL-terminated. */
int mtp_proxy_secret_parse_text(mtp_proxy_secret_t *s, const char *text, size_t len);

/* ---- the transport object ---- */

/* Flags of mtp_transport_frame(). */
#define MTP_TRANSPORT_QUICK_ACK 1u   /* client: ask the server for a quick ack */

/*
 * The codec state. Lives wherever the caller puts it; the fields are private. Pair a
 * successful init with mtp_transport_free().
 */
typedef struct mtp_transport {
    int priv_role;                 /* mtp_role_t */
    int priv_kind;                 /* mtp_transport_kind_t (UNKNOWN while detecting) */
    int priv_obfs;                 /* obfuscated2 active (keys set up) */
    int priv_dead;                 /* sticky receive error (negative) or 0 */
    int priv_dc;                   /* DC id from / for the obfuscated init */
    int priv_secret_kind;          /* mtp_proxy_secret_kind_t */
    uint8_t priv_secret[16];
    const mtp_rng_t *priv_rng;
    size_t priv_max;               /* max payload */
    uint32_t priv_tx_seq, priv_rx_seq;   /* full transport seqno */
    uint8_t priv_prefix[64];       /* tag / obfuscated init not yet sent */
    size_t priv_prefix_len;
    uint8_t *priv_rx;              /* input buffer */
    size_t priv_rx_cap, priv_rx_start, priv_rx_end;
    size_t priv_rx_hw;             /* bytes of it ever written (wiped when freed) */
    mtp_aes_ctr_t priv_enc, priv_dec;
} mtp_transport_t;

/*
 * Client role. kind: ABRIDGED, INTERMEDIATE, PADDED or FULL. obfuscated: wrap in
 * obfuscated2 (not with FULL). dc_id: written as int16 LE at init[60..61] when non-zero
 * (encode it with mtp_transport_dc_code(); needed by MTProxy); 0 leaves those bytes
 * random. secret: NULL, or an MTProxy secret (requires obfuscated; a PADDED-kind secret
 * requires kind PADDED; FAKETLS -> MTP_EINVAL, not implemented).
 * rng: NULL = OpenSSL; otherwise used for the obfuscated init and the padding bytes of
 * the padded transport, and must outlive the transport. The obfuscated init is drawn
 * here (64 bytes per attempt; re-drawn while it has a forbidden prefix).
 * Errors: MTP_EINVAL, the rng's error, MTP_ECRYPTO / MTP_ENOMEM.
 */
int mtp_transport_init_client(mtp_transport_t *t, mtp_transport_kind_t kind, bool obfuscated,
                              int dc_id, const mtp_proxy_secret_t *secret,
                              const mtp_rng_t *rng);

/*
 * Server role with auto-detection (see the header comment). secret: NULL accepts every
 * transport (obfuscated without secret included); PLAIN / PADDED accept only obfuscated
 * connections keyed with it; FAKETLS -> MTP_EINVAL. rng as for the client (padding).
 */
int mtp_transport_init_server(mtp_transport_t *t, const mtp_proxy_secret_t *secret,
                              const mtp_rng_t *rng);

/* Release the input buffer and wipe the keys. Safe on a zero-filled or freed object. */
void mtp_transport_free(mtp_transport_t *t);

/* Bound on incoming and outgoing payloads (4 .. MTP_TRANSPORT_MAX_PACKET_LIMIT, else
 * MTP_EINVAL). Default MTP_TRANSPORT_DEFAULT_MAX_PACKET. */
int mtp_transport_set_max_packet(mtp_transport_t *t, size_t max_payload);

/* Role, detected/configured kind (UNKNOWN until detected), obfuscation, and the DC id
 * of the obfuscated init (server: as read from init[60..61], which clients not talking
 * to a proxy may leave random; client: as configured; 0 without obfuscation). */
mtp_role_t mtp_transport_role(const mtp_transport_t *t);
mtp_transport_kind_t mtp_transport_kind(const mtp_transport_t *t);
bool mtp_transport_obfuscated(const mtp_transport_t *t);
int  mtp_transport_dc_id(const mtp_transport_t *t);
/* The sticky receive error (negative) or 0. */
int  mtp_transport_error(const mtp_transport_t *t);
/* Whether quick acks exist for this transport (false for FULL and before detection). */
bool mtp_transport_quick_ack_supported(const mtp_transport_t *t);

/* DC id as carried in the obfuscated init: dc (+10000 for test DCs), negated for media
 * DCs. */
static inline int mtp_transport_dc_code(int dc, bool test, bool media)
{
    int v = dc + (test ? 10000 : 0);
    return media ? -v : v;
}

/* The quick-ack token of a packet: LE_uint32(msg_key_large[0:4]) | 0x80000000, where
 * msg_key_large = SHA256(auth_key[88:120] + plaintext_with_padding) of that
 * client->server packet (mtp_msg_key2_large with x = 0). Computed by the envelope /
 * session layer, which has the plaintext. */
static inline uint32_t mtp_transport_quick_ack_token(const uint8_t msg_key_large[32])
{
    return ((uint32_t)msg_key_large[0] | (uint32_t)msg_key_large[1] << 8 |
            (uint32_t)msg_key_large[2] << 16 | (uint32_t)msg_key_large[3] << 24) | 0x80000000u;
}

/* ---- receiving ---- */

typedef enum mtp_transport_event_type {
    MTP_TRANSPORT_EV_NONE = 0,        /* need more bytes */
    MTP_TRANSPORT_EV_PACKET = 1,      /* data/len: one payload */
    MTP_TRANSPORT_EV_QUICK_ACK = 2,   /* client role: token */
    MTP_TRANSPORT_EV_ERROR = 3        /* client role: code (negative, e.g. -404) */
} mtp_transport_event_type_t;

typedef struct mtp_transport_event {
    mtp_transport_event_type_t type;
    const uint8_t *data;   /* PACKET: payload (padding stripped); valid until the next
                              feed/rx_space/rx_commit/free call on the transport (the
                              packets of consecutive next() calls stay valid together).
                              It lies in the transport's own input buffer, which the
                              caller may modify in place (decrypt) in the meantime; that
                              buffer is wiped when the transport is freed. */
    size_t len;
    bool quick_ack;        /* PACKET, server role: the client asked for a quick ack */
    uint32_t token;        /* QUICK_ACK: the token, bit 31 set */
    int32_t code;          /* ERROR: the negative int32 the server sent */
} mtp_transport_event_t;

/* Append received stream bytes. 0, the sticky error, or MTP_ENOMEM (the bytes were not
 * taken; the transport stays usable). data may be NULL when n == 0. */
int mtp_transport_feed(mtp_transport_t *t, const uint8_t *data, size_t n);
/*
 * Zero-copy input: mtp_transport_rx_space() makes room for at least want bytes at the end
 * of the transport's input buffer and returns it (*ptr, *cap >= want); read from the
 * socket straight into it (several reads may fill it bit by bit), then
 * mtp_transport_rx_commit(t, n) takes the n bytes written there, exactly as
 * mtp_transport_feed() of them would. Errors as for mtp_transport_feed (MTP_EINVAL: n
 * beyond the space).
 */
int mtp_transport_rx_space(mtp_transport_t *t, size_t want, uint8_t **ptr, size_t *cap);
int mtp_transport_rx_commit(mtp_transport_t *t, size_t n);

/* Produce the next event: 1 = *ev filled, 0 = need more bytes (ev->type = NONE),
 * negative = receive error (sticky; MTP_ETRANSPORT for framing violations). */
int mtp_transport_next(mtp_transport_t *t, mtp_transport_event_t *ev);

/* Bytes fed but not yet returned as events (partial packet, or the undecided prefix). */
size_t mtp_transport_pending(const mtp_transport_t *t);

/* ---- sending ---- */

/*
 * Append the framed (and, if obfuscated, encrypted) payload to out, preceded by the
 * client's tag / obfuscated init on the first call. len must be a multiple of 4 and at
 * most the max packet size (len 0 is framed, for the reference vectors, but no receiver
 * accepts it). flags: 0 or MTP_TRANSPORT_QUICK_ACK (client role, not FULL).
 * The padded kind appends 0..15 random bytes (one rng byte for the count, then the
 * bytes). The payload is copied once into out and encrypted there in place when
 * obfuscated; it must not point into out->data. On error nothing is appended
 * (MTP_EINVAL, MTP_ESTATE for a server that has not detected the transport yet,
 * MTP_ENOMEM or out->err, the rng's error). MTP_ECRYPTO (AES failure, not expected in
 * practice) leaves the send stream unusable: close the connection.
 */
int mtp_transport_frame(mtp_transport_t *t, const uint8_t *payload, size_t len,
                        unsigned flags, mtp_buf_t *out);

/*
 * The same framing in two steps, for a payload produced in place (no copy):
 * mtp_transport_frame_begin() appends a frame for a payload of len bytes (same checks,
 * flags and errors as mtp_transport_frame) and fills *slot; the caller then writes the len
 * payload bytes at out->data + slot->payload, and mtp_transport_frame_end() finishes the
 * frame (CRC for full, obfuscation). Several frames may be begun before the first is
 * ended (sealing several packets at once), but they must be ended in the order they were
 * begun, and every begun frame must be ended (or the connection abandoned). Offsets, not
 * pointers: out may move while later frames are begun.
 */
typedef struct mtp_transport_slot {
    size_t from;       /* first byte of the frame (after a one-time prefix) */
    size_t payload;    /* where the payload goes */
    size_t len;        /* payload length */
    size_t end;        /* one past the frame */
} mtp_transport_slot_t;
int mtp_transport_frame_begin(mtp_transport_t *t, size_t len, unsigned flags, mtp_buf_t *out,
                              mtp_transport_slot_t *slot);
int mtp_transport_frame_end(mtp_transport_t *t, mtp_buf_t *out,
                            const mtp_transport_slot_t *slot);

/* Client: append the tag / obfuscated init now if it has not been sent yet (no-op
 * otherwise, and for the server role). */
int mtp_transport_handshake(mtp_transport_t *t, mtp_buf_t *out);

/* Server: append a quick ack carrying token (bit 31 is forced on). MTP_EINVAL for the
 * client role or FULL; MTP_ESTATE before detection. */
int mtp_transport_frame_quick_ack(mtp_transport_t *t, uint32_t token, mtp_buf_t *out);

/* Server: append a transport error (code < 0, e.g. -404). MTP_EINVAL for code >= 0 or
 * the client role; MTP_ESTATE before detection. */
int mtp_transport_frame_error(mtp_transport_t *t, int32_t code, mtp_buf_t *out);

/* Name of a kind ("abridged", "intermediate", "padded", "full", "unknown"). */
const char *mtp_transport_kind_name(mtp_transport_kind_t kind);

#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_TRANSPORT_H */
