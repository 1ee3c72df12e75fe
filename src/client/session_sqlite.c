/*
 * libmtproto client — a small, bounded reader of the SQLite 3 file format, enough to read
 * the `sessions` table of a Telethon or Pyrogram `.session` file: the header, the schema
 * table (sqlite_master, page 1), table b-tree pages (interior 0x05, leaf 0x0d), overflow
 * chains and records. Every offset is checked against the page, every page number against
 * the file; depth, pages visited and payload sizes are bounded, so a hostile file fails
 * with MTP_EINVAL (or MTP_ETRUNC / MTP_ERANGE) and never reads out of bounds. No WAL: a
 * file whose latest changes are still in its -wal file is read as of its last checkpoint.
 */
#define _GNU_SOURCE
#include <mtproto/session_formats.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SQ_MAX_DEPTH 16
#define SQ_MAX_VISITS 4096          /* pages per table walk */
#define SQ_MAX_PAYLOAD (1u << 20)
#define SQ_MAX_COLS 32

typedef struct sq_db {
    const uint8_t *f;
    size_t len;
    uint32_t psz, usable, npages;
    unsigned visits;
} sq_db_t;

typedef struct sq_val {
    int type;                   /* 0 null, 1 int, 2 float, 3 blob, 4 text */
    int64_t i;
    const uint8_t *p;
    size_t n;
} sq_val_t;

/* A row callback: > 0 stops the walk (found), < 0 is an error. */
typedef int (*sq_row_fn)(void *ctx, int64_t rowid, const sq_val_t *cols, int ncols);

static uint32_t rb16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t rb32(const uint8_t *p) { return rb16(p) << 16 | rb16(p + 2); }

static const uint8_t *sq_page(sq_db_t *db, uint32_t pg)
{
    if (pg < 1 || pg > db->npages)
        return NULL;
    return db->f + (size_t)(pg - 1) * db->psz;
}

/* varint at p (at most end); returns bytes used or 0 */
static size_t sq_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 9; i++) {
        if (p + i >= end)
            return 0;
        if (i == 8) {
            *v = x << 8 | p[i];
            return 9;
        }
        x = x << 7 | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* The payload of a table leaf cell into buf (malloc'd). */
static int sq_payload(sq_db_t *db, const uint8_t *cell, const uint8_t *pend, uint8_t **buf,
                      size_t *blen, int64_t *rid)
{
    uint64_t P, rowid;
    size_t a = sq_varint(cell, pend, &P);
    size_t b = a ? sq_varint(cell + a, pend, &rowid) : 0;
    if (!b)
        return MTP_ETRUNC;
    if (P > SQ_MAX_PAYLOAD)
        return MTP_ERANGE;
    *rid = (int64_t)rowid;
    const uint8_t *p = cell + a + b;
    uint32_t U = db->usable, X = U - 35;
    size_t local = (size_t)P;
    if (P > X) {
        uint32_t M = ((U - 12) * 32 / 255) - 23;
        uint32_t K = M + (uint32_t)((P - M) % (U - 4));
        local = K <= X ? K : M;
    }
    if ((size_t)(pend - p) < local + (local < P ? 4 : 0))
        return MTP_ETRUNC;
    uint8_t *out = malloc(P ? (size_t)P : 1);
    if (!out)
        return MTP_ENOMEM;
    memcpy(out, p, local);
    size_t have = local;
    uint32_t next = local < P ? rb32(p + local) : 0;
    while (have < P) {
        const uint8_t *op = sq_page(db, next);
        if (!op || ++db->visits > SQ_MAX_VISITS) {
            free(out);
            return MTP_EINVAL;
        }
        size_t take = P - have < U - 4 ? (size_t)(P - have) : U - 4;
        memcpy(out + have, op + 4, take);
        have += take;
        next = rb32(op);
    }
    *buf = out;
    *blen = (size_t)P;
    return 0;
}

static int sq_record(const uint8_t *r, size_t n, sq_val_t *cols, int *ncols)
{
    uint64_t hsz;
    const uint8_t *end = r + n;
    size_t a = sq_varint(r, end, &hsz);
    if (!a || hsz < a || hsz > n)
        return MTP_EINVAL;
    const uint8_t *h = r + a, *hend = r + hsz, *d = hend;
    int k = 0;
    while (h < hend) {
        uint64_t t;
        size_t u = sq_varint(h, hend, &t);
        if (!u || k >= SQ_MAX_COLS)
            return MTP_EINVAL;
        h += u;
        sq_val_t *v = &cols[k++];
        memset(v, 0, sizeof *v);
        static const uint8_t isz[] = { 0, 1, 2, 3, 4, 6, 8, 8, 0, 0 };
        if (t == 10 || t == 11)
            return MTP_EINVAL;
        size_t len = t < 10 ? isz[t] : (size_t)((t - 12) / 2);
        if ((size_t)(end - d) < len)
            return MTP_ETRUNC;
        if (t == 0) {
            v->type = 0;
        } else if (t <= 6) {
            uint64_t x = (d[0] & 0x80) ? ~(uint64_t)0 : 0;
            for (size_t i = 0; i < len; i++)
                x = x << 8 | d[i];
            v->type = 1;
            v->i = (int64_t)x;
        } else if (t == 7) {
            v->type = 2;
        } else if (t == 8 || t == 9) {
            v->type = 1;
            v->i = (int64_t)(t - 8);
        } else {
            v->type = t & 1 ? 4 : 3;
            v->p = d;
            v->n = len;
        }
        d += len;
    }
    *ncols = k;
    return 0;
}

static int sq_walk(sq_db_t *db, uint32_t pg, int depth, sq_row_fn fn, void *ctx)
{
    const uint8_t *page = sq_page(db, pg);
    if (!page || depth > SQ_MAX_DEPTH || ++db->visits > SQ_MAX_VISITS)
        return MTP_EINVAL;
    const uint8_t *h = page + (pg == 1 ? 100 : 0), *pend = page + db->usable;
    uint8_t type = h[0];
    if (type != 0x05 && type != 0x0d)
        return MTP_EINVAL;
    size_t hl = type == 0x05 ? 12 : 8;
    uint32_t ncell = rb16(h + 3);
    if ((size_t)(pend - h) < hl + 2 * (size_t)ncell)
        return MTP_EINVAL;
    const uint8_t *ptrs = h + hl;
    for (uint32_t i = 0; i < ncell; i++) {
        uint32_t off = rb16(ptrs + 2 * i);
        if (off < (size_t)(ptrs + 2 * ncell - page) || off >= db->usable)
            return MTP_EINVAL;
        const uint8_t *cell = page + off;
        int rc;
        if (type == 0x05) {
            if (pend - cell < 4)
                return MTP_ETRUNC;
            rc = sq_walk(db, rb32(cell), depth + 1, fn, ctx);
        } else {
            uint8_t *pl = NULL;
            size_t pn = 0;
            sq_val_t cols[SQ_MAX_COLS];
            int nc = 0;
            int64_t rowid = 0;
            rc = sq_payload(db, cell, pend, &pl, &pn, &rowid);
            if (!rc)
                rc = sq_record(pl, pn, cols, &nc);
            if (!rc)
                rc = fn(ctx, rowid, cols, nc);
            if (pl)
                memset(pl, 0, pn);
            free(pl);
        }
        if (rc)
            return rc;
    }
    return type == 0x05 ? sq_walk(db, rb32(h + 8), depth + 1, fn, ctx) : 0;
}

/* ---- the schema: the root page and the column names of table `sessions` */

typedef struct sq_schema {
    uint32_t root;
    char cols[SQ_MAX_COLS][24];
    int ncols;
} sq_schema_t;

static int parse_columns(const uint8_t *sql, size_t n, sq_schema_t *s)
{
    size_t i = 0;
    while (i < n && sql[i] != '(')
        i++;
    if (i++ >= n)
        return MTP_EINVAL;
    int depth = 0;
    bool at_start = true;
    s->ncols = 0;
    for (; i < n && depth >= 0; i++) {
        uint8_t ch = sql[i];
        if (ch == '(') {
            depth++;
        } else if (ch == ')') {
            depth--;
        } else if (ch == ',' && depth == 0) {
            at_start = true;
        } else if (at_start && depth == 0 && ch != ' ' && ch != '\n' && ch != '\t' &&
                   ch != '\r') {
            size_t j = i;
            if (ch == '"' || ch == '`' || ch == '[')
                j = ++i;
            while (j < n && (isalnum(sql[j]) || sql[j] == '_'))
                j++;
            size_t l = j - i;
            if (l == 0 || l >= sizeof s->cols[0] || s->ncols >= SQ_MAX_COLS)
                return MTP_EINVAL;
            /* table constraints (PRIMARY KEY (...), UNIQUE ...) are not columns */
            if (!((l == 7 && !strncasecmp((const char *)sql + i, "primary", 7)) ||
                  (l == 6 && !strncasecmp((const char *)sql + i, "unique", 6)) ||
                  (l == 10 && !strncasecmp((const char *)sql + i, "constraint", 10)))) {
                memcpy(s->cols[s->ncols], sql + i, l);
                s->cols[s->ncols++][l] = 0;
            }
            at_start = false;
            i = j - 1;
        }
    }
    return s->ncols ? 0 : MTP_EINVAL;
}

static int schema_row(void *ctx, int64_t rowid, const sq_val_t *c, int n)
{
    (void)rowid;
    sq_schema_t *s = ctx;
    if (n < 5 || c[0].type != 4 || c[1].type != 4)
        return 0;
    if (c[0].n != 5 || memcmp(c[0].p, "table", 5) || c[1].n != 8 || memcmp(c[1].p, "sessions", 8))
        return 0;
    if (c[3].type != 1 || c[3].i < 2 || c[3].i > UINT32_MAX || c[4].type != 4)
        return MTP_EINVAL;
    s->root = (uint32_t)c[3].i;
    int rc = parse_columns(c[4].p, c[4].n, s);
    return rc ? rc : 1;
}

/* ---- the row of `sessions` */

typedef struct sq_find {
    int fmt;
    int ix_dc, ix_key, ix_addr, ix_port, ix_api, ix_test, ix_user, ix_bot;
    mtp_session_info_t *out;
    int rc;
} sq_find_t;

static int col_int(const sq_val_t *c, int n, int ix, int64_t lo, int64_t hi, int64_t *v)
{
    if (ix < 0 || ix >= n)
        return 0;           /* an older table without the column */
    if (c[ix].type == 0)
        return 0;
    if (c[ix].type != 1 || c[ix].i < lo || c[ix].i > hi)
        return MTP_EINVAL;
    *v = c[ix].i;
    return 0;
}

static int sessions_row(void *ctx, int64_t rowid, const sq_val_t *c, int n)
{
    sq_find_t *f = ctx;
    mtp_session_info_t *o = f->out;
    if (f->ix_key >= n || c[f->ix_key].type != 3 || c[f->ix_key].n != MTP_SESSION_KEY_LEN)
        return 0;           /* a row without a key (Telethon before login): the next */
    int64_t dc = 0, port = 0, api = 0, test = 0, user = 0, bot = 0;
    int rc = col_int(c, n, f->ix_dc, 1, MTP_CLIENT_MAX_DCS, &dc);
    if (!rc && !dc && f->ix_dc < n && c[f->ix_dc].type == 0)   /* INTEGER PRIMARY KEY: */
        dc = rowid >= 1 && rowid <= MTP_CLIENT_MAX_DCS ? rowid : 0;   /* the rowid */
    if (!rc)
        rc = col_int(c, n, f->ix_port, 0, 65535, &port);
    if (!rc)
        rc = col_int(c, n, f->ix_api, 0, INT32_MAX, &api);
    if (!rc)
        rc = col_int(c, n, f->ix_test, 0, 1, &test);
    if (!rc)
        rc = col_int(c, n, f->ix_user, 0, INT64_MAX, &user);
    if (!rc)
        rc = col_int(c, n, f->ix_bot, 0, 1, &bot);
    if (!rc && !dc)
        rc = MTP_EINVAL;
    if (!rc && f->ix_addr >= 0 && f->ix_addr < n && c[f->ix_addr].type == 4) {
        const sq_val_t *a = &c[f->ix_addr];
        if (a->n == 0 || a->n >= sizeof o->host)
            rc = MTP_EINVAL;
        for (size_t i = 0; !rc && i < a->n; i++)
            if (a->p[i] < 0x21 || a->p[i] > 0x7e)
                rc = MTP_EINVAL;
        if (!rc) {
            memcpy(o->host, a->p, a->n);
            o->host[a->n] = 0;
        }
    }
    if (rc)
        return rc;
    o->dc_id = (int)dc;
    o->port = (uint16_t)port;
    o->api_id = (int32_t)api;
    o->test_mode = test != 0;
    o->user_id = user;
    o->is_bot = bot != 0;
    const uint8_t *k = c[f->ix_key].p;
    uint8_t acc = 0;
    for (size_t i = 0; i < MTP_SESSION_KEY_LEN; i++)
        acc |= k[i];
    if (!acc)
        return MTP_EBADKEY;
    memcpy(o->auth_key, k, MTP_SESSION_KEY_LEN);
    return 1;
}

static int col_ix(const sq_schema_t *s, const char *name)
{
    for (int i = 0; i < s->ncols; i++)
        if (!strcasecmp(s->cols[i], name))
            return i;
    return -1;
}

int mtp_session_info_parse_sqlite(int fmt, const uint8_t *file, size_t len,
                                  mtp_session_info_t *out)
{
    if (!file || !out || (fmt != MTP_SESSION_FMT_TELETHON && fmt != MTP_SESSION_FMT_PYROGRAM))
        return MTP_EINVAL;
    memset(out, 0, sizeof *out);
    if (len < 100 || memcmp(file, "SQLite format 3", 16))
        return MTP_EINVAL;
    sq_db_t db = { file, len, rb16(file + 16), 0, 0, 0 };
    if (db.psz == 1)
        db.psz = 65536;
    if (db.psz < 512 || db.psz > 65536 || (db.psz & (db.psz - 1)) || file[20] > db.psz - 480)
        return MTP_EINVAL;
    db.usable = db.psz - file[20];
    db.npages = (uint32_t)(len / db.psz);
    if (db.npages < 2)
        return MTP_ETRUNC;
    sq_schema_t s;
    memset(&s, 0, sizeof s);
    int rc = sq_walk(&db, 1, 0, schema_row, &s);
    if (rc <= 0)
        return rc ? rc : MTP_ENOTFOUND;
    sq_find_t f = { fmt, col_ix(&s, "dc_id"), col_ix(&s, "auth_key"), -1, -1, -1, -1, -1, -1,
                    out, 0 };
    if (fmt == MTP_SESSION_FMT_TELETHON) {
        f.ix_addr = col_ix(&s, "server_address");
        f.ix_port = col_ix(&s, "port");
        if (f.ix_addr < 0 || f.ix_port < 0)
            return MTP_EINVAL;
    } else {
        f.ix_api = col_ix(&s, "api_id");
        f.ix_test = col_ix(&s, "test_mode");
        f.ix_user = col_ix(&s, "user_id");
        f.ix_bot = col_ix(&s, "is_bot");
        if (f.ix_test < 0 || f.ix_user < 0)
            return MTP_EINVAL;
    }
    if (f.ix_dc < 0 || f.ix_key < 0)
        return MTP_EINVAL;
    db.visits = 0;
    rc = sq_walk(&db, s.root, 0, sessions_row, &f);
    if (rc <= 0) {
        mtp_session_info_clear(out);
        return rc ? rc : MTP_ENOTFOUND;
    }
    return 0;
}
