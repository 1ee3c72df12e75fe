/*
 * libmtproto — sessions of other MTProto libraries: Telethon and Pyrogram string sessions
 * and their SQLite `.session` files, GramJS StringSession, mtcute string sessions.
 *
 * Each format carries one DC's auth key (256 bytes) and its DC id; some also the DC's
 * address, the user id, the api_id, a bot flag and the test-DC flag (mtp_session_info_t:
 * the fields a format lacks stay 0 / ""). Parsing validates every byte (a malformed or
 * hostile string or file is MTP_EINVAL / MTP_ETRUNC / MTP_ERANGE, nothing is read out of
 * bounds); the SQLite reader reads the table b-tree pages of the file directly (no
 * libsqlite3), bounded in pages, depth and payload size.
 *
 * Export writes the string formats (not the SQLite files). A format that needs the DC
 * address (Telethon, GramJS, mtcute) is written with info->host / info->port, which must
 * then be set (Telethon: an IPv4 or IPv6 literal).
 */
#ifndef MTP_SESSION_FORMATS_H
#define MTP_SESSION_FORMATS_H

#include <mtproto/client.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mtp_session_format {
    MTP_SESSION_FMT_TELETHON = 1,   /* "1" + urlsafe base64 of >B{4|16}sH256s */
    MTP_SESSION_FMT_PYROGRAM = 2,   /* urlsafe base64 of >BI?256sQ? (and the two older ones) */
    MTP_SESSION_FMT_GRAMJS = 3,     /* "1" + base64 of dc, len16, address, port16, key */
    MTP_SESSION_FMT_MTCUTE = 4      /* urlsafe base64 of version 3 (TL-serialized) */
} mtp_session_format_t;

#define MTP_SESSION_KEY_LEN 256

typedef struct mtp_session_info {
    int dc_id;                  /* 1..MTP_CLIENT_MAX_DCS */
    char host[64];              /* the DC's address; "" = unknown */
    uint16_t port;              /* 0 = unknown */
    uint8_t auth_key[MTP_SESSION_KEY_LEN];   /* secret */
    int64_t user_id;            /* 0 = unknown */
    int32_t api_id;             /* 0 = unknown */
    bool is_bot, test_mode;
} mtp_session_info_t;

/* "telethon", "pyrogram", "gramjs", "mtcute" -> the format; 0 = unknown name. */
int mtp_session_format_from_name(const char *name);
const char *mtp_session_format_name(int fmt);

/* A string session of fmt (surrounding white space ignored). 0 or a negative MTP_E*. */
int mtp_session_info_parse(int fmt, const char *text, mtp_session_info_t *out);
/* A Telethon or Pyrogram SQLite .session file (its bytes): the first row of its sessions
 * table. MTP_EINVAL also for a file of the other library (a missing column). */
int mtp_session_info_parse_sqlite(int fmt, const uint8_t *file, size_t len,
                                  mtp_session_info_t *out);
/* The string session of fmt for info (malloc'd, NUL-terminated; secret); NULL with *err
 * set (MTP_EINVAL: a field the format needs is missing or out of range). */
char *mtp_session_info_format(int fmt, const mtp_session_info_t *info, int *err);
/* Wipe an info (the auth key is a secret). */
void mtp_session_info_clear(mtp_session_info_t *info);

/* The client's home DC as an info (its auth key, the DC's address from the client's DC
 * table, the user id, cfg.api_id). MTP_ESTATE when the home DC has no key. */
int mtp_client_session_get_info(mtp_client_t *c, mtp_session_info_t *out);
/* Replace the session with info's key as the (authorized) key of its DC, which becomes
 * the home DC, before any call on the client. The user id as given: 0 (unknown, as in
 * Telethon and GramJS strings) leaves mtp_client_authorized() false; learn it with
 * users.getUsers([inputUserSelf]) (mtp_call_sync_raw) and call this again with it, as
 * `mtproto-cli session convert` does. The peer cache and the updates state are emptied.
 * Saved to the session file. */
int mtp_client_session_set_info(mtp_client_t *c, const mtp_session_info_t *info);

#ifdef __cplusplus
}
#endif
#endif
