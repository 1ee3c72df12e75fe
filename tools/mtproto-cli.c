/*
 * mtproto-cli — a command-line Telegram client on libmtproto (see --help).
 */
#define _GNU_SOURCE
#include <mtproto/client.h>
#include <mtproto/crypto.h>
#include <mtproto/net.h>
#include <mtproto/ops.h>
#include <mtproto/session_formats.h>
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* --help: usage_head, then each command's usage (the table below), then usage_tail */
static const char usage_head[] =
    "usage: mtproto-cli [--server HOST:PORT] [--dc N] [--rsa-key PUBLIC.pem] [--transport T]\n"
    "                   [--session FILE] [--api-id N] [--api-hash H] [--json] [--pretty]\n"
    "                   COMMAND ...\n"
    "\n"
    "options:\n"
    "  --server HOST:PORT  a custom deployment: its DC N (--dc, default 1) is at HOST:PORT,\n"
    "                      the other DCs come from help.getConfig; needs --rsa-key.\n"
    "                      Without --server: Telegram's production DCs.\n"
    "  --dc N              the DC --server points at (default 1)\n"
    "  --rsa-key FILE      the server's RSA public key (PEM)\n"
    "  --transport T       abridged | intermediate (default) | padded | full | obfuscated\n"
    "  --session FILE      session file (auth keys, home DC; mode 0600). Env MTP_SESSION.\n"
    "                      Default: ./mtproto.session\n"
    "  --api-id N          application id (env MTP_API_ID)\n"
    "  --api-hash H        application hash (env MTP_API_HASH; never printed)\n"
    "  --json              print JSON lines\n"
    "  --pretty            call: print the result as indented TL text\n"
    "\n"
    "commands:\n";

static const char usage_tail[] =
    "\n"
    "PEER (send, history, upload, download):\n"
    "  me | self          yourself\n"
    "  @username          a user, group or channel by its username\n"
    "  N                  a user id (e.g. 123456789)\n"
    "  -N                 a basic group id (e.g. -123456789)\n"
    "  -100N              a channel or supergroup, Bot API style (e.g. -1001234567890)\n"
    "  An id needs the peer's access hash: the session remembers it for every user, group\n"
    "  and channel seen in an answer (of any command, call included). Address a peer once\n"
    "  by @username, or fetch dialogs (call messages.getDialogs), and its id works after.\n"
    "\n"
    "exit status: 0 ok, 1 failure (RPC errors print their code and message), 2 usage\n";

static bool g_json;
static bool g_pretty;

static int die_usage(const char *msg)
{
    fprintf(stderr, "mtproto-cli: %s\n(see mtproto-cli --help)\n", msg);
    return 2;
}

static void json_str(FILE *f, const uint8_t *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned ch = p[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc((int)ch, f);
    }
    fputc('"', f);
}

static int fail(const char *what, int rc, const mtp_call_error_t *e)
{
    if (e && e->err == MTP_ERPC) {
        if (g_json) {
            fprintf(stderr, "{\"error\":\"rpc\",\"what\":\"%s\",\"code\":%d,\"message\":", what,
                    (int)e->code);
            json_str(stderr, (const uint8_t *)e->message, strlen(e->message));
            fprintf(stderr, "}\n");
        } else {
            fprintf(stderr, "mtproto-cli: %s: RPC error %d %s\n", what, (int)e->code, e->message);
        }
    } else if (e && e->err == MTP_EFLOOD) {
        fprintf(stderr, g_json ? "{\"error\":\"flood\",\"what\":\"%s\",\"code\":420,"
                                 "\"message\":\"%s\",\"wait\":%lld}\n"
                               : "mtproto-cli: %s: RPC error 420 %s (wait %lld s)\n",
                what, e->message, (long long)e->number);
    } else if (e && e->err && e->message[0]) {
        /* a typed local error with details (bad PEER, peer not in the cache ...) */
        if (g_json) {
            fprintf(stderr, "{\"error\":\"%s\",\"what\":\"%s\",\"code\":%d,\"message\":",
                    mtp_strerror(rc), what, rc);
            json_str(stderr, (const uint8_t *)e->message, strlen(e->message));
            fprintf(stderr, "}\n");
        } else {
            fprintf(stderr, "mtproto-cli: %s: %s (%d): %s\n", what, mtp_strerror(rc), rc,
                    e->message);
        }
    } else {
        fprintf(stderr, g_json ? "{\"error\":\"%s\",\"what\":\"%s\",\"code\":%d}\n"
                               : "mtproto-cli: %s: %s (%d)\n",
                g_json ? mtp_strerror(rc) : what, g_json ? what : mtp_strerror(rc),
                rc);
    }
    return 1;
}

static int ask_tty(void *user, const char *prompt, char *buf, size_t cap)
{
    (void)user;
    bool secret = strstr(prompt, "assword") != NULL;
    FILE *in = fopen("/dev/tty", "r+");
    FILE *rd = in ? in : stdin;
    FILE *wr = in ? in : stderr;
    struct termios old, t;
    bool restore = false;
    fputs(prompt, wr);
    fflush(wr);
    if (secret && isatty(fileno(rd)) && tcgetattr(fileno(rd), &old) == 0) {
        t = old;
        t.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(fileno(rd), TCSAFLUSH, &t) == 0;
    }
    char *r = fgets(buf, (int)cap, rd);
    if (restore) {
        tcsetattr(fileno(rd), TCSAFLUSH, &old);
        fputc('\n', wr);
    }
    if (in)
        fclose(in);
    if (!r)
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b)
        b[n] = 0;
    if (len)
        *len = n;
    return b;
}

static void print_obj(const mtp_tl_object_t *o)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    if (g_pretty ? mtp_tl_print(o, &b) : mtp_tl_to_json(o, &b))
        fprintf(stderr, "mtproto-cli: cannot print the result\n");
    else
        printf("%.*s\n", (int)b.len, (const char *)b.data);
    mtp_buf_free(&b);
}

/* Call and print the result whatever its type (vectors included). */
static int raw_call(mtp_client_t *c, const mtp_tl_object_t *q, const char *what)
{
    mtp_buf_t body, res, txt;
    mtp_buf_init(&body);
    mtp_buf_init(&res);
    mtp_buf_init(&txt);
    mtp_call_error_t e;
    int ret = 0;
    int rc = mtp_tl_encode(q, &body);
    if (rc)
        ret = fail(what, rc, NULL);
    else if ((rc = mtp_call_sync_raw(c, 0, 0, body.data, body.len, &res, &e)) != 0)
        ret = fail(what, rc, &e);
    else if ((rc = mtp_result_format(q, res.data, res.len, g_pretty, &txt)) != 0)
        ret = fail("decode result", rc, NULL);
    else
        printf("%.*s\n", (int)txt.len, (const char *)txt.data);
    mtp_buf_free(&body);
    mtp_buf_free(&res);
    mtp_buf_free(&txt);
    return ret;
}

static int64_t rnd64(void)
{
    int64_t r = 0;
    mtp_rand(NULL, &r, sizeof r);
    return r;
}

static void progress_bar(void *user, uint64_t done, uint64_t total)
{
    (void)user;
    if (!isatty(2) || !total)
        return;
    int pct = (int)(done * 100 / total);
    int bars = pct / 4;
    fprintf(stderr, "\r[%.*s%*s] %3d%% %llu/%llu", bars, "#########################",
            25 - bars, "", pct, (unsigned long long)done, (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
}

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_message(const mtp_tl_object_t *m)
{
    if (m->tl->id != MTP_ID_message) {
        if (g_json)
            print_obj(m);
        return;
    }
    const mtp_message_t *msg = (const mtp_message_t *)m;
    if (g_json) {
        print_obj(m);
        return;
    }
    int64_t from = msg->from_id && msg->from_id->tl->id == MTP_ID_peerUser
                       ? ((const mtp_peerUser_t *)msg->from_id)->user_id : 0;
    printf("%d\t%d\t%lld\t%s%.*s\n", msg->id, msg->date, (long long)from,
           msg->media ? "[media] " : "", (int)msg->message.len, (const char *)msg->message.ptr);
}

static int cmd_history(mtp_client_t *c, mtp_arena_t *a, const char *peer, int limit, bool print,
                       int msg_id, const mtp_tl_object_t **found)
{
    mtp_call_error_t e;
    mtp_tl_object_t *ip;
    int rc = mtp_client_input_peer(c, peer, a, &ip, &e);
    if (rc)
        return fail("resolve peer", rc, &e);
    mtp_messages_getHistory_t *g = MTP_NEW(a, messages_getHistory);
    g->peer = ip;
    g->limit = limit;
    if (msg_id) {
        g->offset_id = msg_id + 1;
        g->limit = 1;
    }
    mtp_tl_object_t *o;
    rc = mtp_call_sync(c, &g->_, a, &o, &e);
    if (rc)
        return fail("messages.getHistory", rc, &e);
    const mtp_vec_obj_t *ms = NULL;
    if (o->tl->id == MTP_ID_messages_messages)
        ms = &((const mtp_messages_messages_t *)o)->messages;
    else if (o->tl->id == MTP_ID_messages_messagesSlice)
        ms = &((const mtp_messages_messagesSlice_t *)o)->messages;
    else if (o->tl->id == MTP_ID_messages_channelMessages)
        ms = &((const mtp_messages_channelMessages_t *)o)->messages;
    if (!ms)
        return fail("messages.getHistory", MTP_EPROTO, NULL);
    for (uint32_t i = 0; i < ms->n; i++) {
        if (print)
            print_message(ms->v[i]);
        if (found && ms->v[i]->tl->id == MTP_ID_message &&
            ((const mtp_message_t *)ms->v[i])->id == msg_id)
            *found = ms->v[i];
    }
    return 0;
}

typedef struct upd_ctx {
    long n, limit;
    bool done;
} upd_ctx_t;

static void on_update(mtp_client_t *c, void *user, const mtp_tl_object_t *u,
                      const mtp_vec_obj_t *users, const mtp_vec_obj_t *chats)
{
    (void)c;
    (void)users;
    (void)chats;
    upd_ctx_t *x = user;
    if (x->done)
        return;
    mtp_buf_t b;
    mtp_buf_init(&b);
    if (!mtp_tl_to_json(u, &b) && !b.err) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    mtp_buf_free(&b);
    if (x->limit > 0 && ++x->n >= x->limit)
        x->done = true;
}

static int cmd_updates(mtp_client_t *c, long timeout, long limit)
{
    upd_ctx_t x = { 0, limit, false };
    mtp_call_error_t e;
    mtp_client_on_update(c, on_update, &x);
    int rc = mtp_client_updates_start(c, &e);
    if (rc)
        return fail("updates.getState", rc, &e);
    mtp_usec_t until = timeout > 0 ? mtp_now_usec() + (mtp_usec_t)timeout * MTP_USEC_PER_SEC
                                   : MTP_TIME_NEVER;
    while (!x.done) {
        mtp_usec_t now = mtp_now_usec();
        if (now >= until)
            break;
        mtp_usec_t left = until == MTP_TIME_NEVER ? 1000000 : until - now;
        rc = mtp_client_run(c, &x.done, (int)((left > 1000000 ? 1000000 : left) / 1000 + 1));
        if (rc && rc != MTP_ETIMEDOUT)
            return fail("updates", rc, NULL);
    }
    mtp_client_on_update(c, NULL, NULL);
    mtp_client_save(c);
    return 0;
}

/* ---- the commands ---- */

/* What a command's handler gets: the client (logged in or not), a scratch arena and the
 * words after the command name. */
typedef struct cli_args {
    mtp_client_t *c;
    mtp_arena_t *a;
    int nargs;
    char **args;
} cli_args_t;

/* Argument checks, before any network. */
static bool args_login(int nargs, char **args)
{
    if (nargs >= 2 && !strcmp(args[0], "--phone")) {    /* then --code / --first-name / --last-name */
        for (int k = 2; k < nargs; k += 2)
            if (k + 1 >= nargs || (strcmp(args[k], "--code") && strcmp(args[k], "--first-name") &&
                                   strcmp(args[k], "--last-name")))
                return false;
        return true;
    }
    return nargs >= 2 && !strcmp(args[0], "--bot");
}

static bool args_none(int nargs, char **args)
{
    (void)args;
    return nargs == 0;
}

static bool args_peer_and_one(int nargs, char **args)
{
    (void)args;
    return nargs == 2;
}

static bool args_history(int nargs, char **args)
{
    return nargs == 1 || (nargs == 3 && !strcmp(args[1], "--limit"));
}

static bool args_download(int nargs, char **args)
{
    return nargs == 2 || (nargs == 4 && !strcmp(args[2], "-o"));
}

static bool args_call(int nargs, char **args)
{
    (void)args;
    return nargs == 1 || nargs == 2;
}

static bool args_updates(int nargs, char **args)
{
    bool ok_usage = nargs % 2 == 0;
    for (int k = 0; ok_usage && k < nargs; k += 2) {
        char *end;
        long v = strtol(args[k + 1], &end, 10);
        ok_usage = (!strcmp(args[k], "--timeout") || !strcmp(args[k], "--limit")) &&
                   args[k + 1][0] && !*end && v >= 0 && v <= 100000000;
    }
    return ok_usage;
}

static bool args_session(int nargs, char **args)
{
    if (nargs >= 3 && !strcmp(args[0], "convert")) {
        /* convert --from F [--to T] [INPUT]: INPUT needed unless --from mtproto */
        const char *from = NULL, *to = NULL, *in = NULL;
        for (int k = 1; k < nargs; k++) {
            if (!strcmp(args[k], "--from") && k + 1 < nargs)
                from = args[++k];
            else if (!strcmp(args[k], "--to") && k + 1 < nargs)
                to = args[++k];
            else if (!in)
                in = args[k];
            else
                return false;
        }
        bool fm = from && !strcmp(from, "mtproto"), tm = !to || !strcmp(to, "mtproto");
        return from && (fm || mtp_session_format_from_name(from)) &&
               (tm || mtp_session_format_from_name(to)) && (fm ? !in && !tm : in != NULL);
    }
    return (nargs == 1 && !strcmp(args[0], "export")) ||
           (nargs == 2 && !strcmp(args[0], "import"));
}

/* The handlers: 0 ok, 1 failure, 2 usage (the exit status). */
static int run_login(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    int nargs = x->nargs;
    char **args = x->args;
    mtp_call_error_t e;
    memset(&e, 0, sizeof e);
    int ret = 0, rc;
    if (!strcmp(args[0], "--phone")) {
        const char *code = NULL, *first = NULL, *last = NULL;
        for (int k = 2; k + 1 < nargs; k += 2) {
            if (!strcmp(args[k], "--code"))
                code = args[k + 1];
            else if (!strcmp(args[k], "--first-name"))
                first = args[k + 1];
            else if (!strcmp(args[k], "--last-name"))
                last = args[k + 1];
        }
        rc = first ? mtp_login_phone_signup(c, args[1], code, first, last, ask_tty, NULL, &e)
                   : mtp_login_phone(c, args[1], code, ask_tty, NULL, &e);
    } else {
        rc = mtp_login_bot(c, args[1], &e);
    }
    if (rc)
        ret = fail("login", rc, &e);
    else if (g_json)
        printf("{\"login\":\"ok\",\"user_id\":\"%lld\",\"dc\":%d}\n",
               (long long)mtp_client_user_id(c), mtp_client_home_dc(c));
    else
        printf("logged in as %lld (home DC %d)\n", (long long)mtp_client_user_id(c),
               mtp_client_home_dc(c));
    return ret;
}

static int run_me(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    mtp_arena_t *a = x->a;
    int ret = 0;
    mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
    g->id.n = 1;
    g->id.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    g->id.v[0] = (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf);
    ret = raw_call(c, &g->_, "users.getUsers");
    return ret;
}

static int run_logout(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    mtp_call_error_t e;
    memset(&e, 0, sizeof e);
    int ret = 0, rc;
    rc = mtp_logout(c, &e);
    if (rc)
        ret = fail("auth.logOut", rc, &e);
    else
        printf(g_json ? "{\"logout\":\"ok\"}\n" : "logged out\n");
    return ret;
}

static int run_send(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    mtp_arena_t *a = x->a;
    char **args = x->args;
    mtp_call_error_t e;
    memset(&e, 0, sizeof e);
    int ret = 0, rc;
    mtp_tl_object_t *ip, *o;
    rc = mtp_client_input_peer(c, args[0], a, &ip, &e);
    if (rc) {
        ret = fail("resolve peer", rc, &e);
        goto out;
    }
    mtp_messages_sendMessage_t *s = MTP_NEW(a, messages_sendMessage);
    s->peer = ip;
    s->message = (mtp_bytes_t){ (const uint8_t *)args[1], strlen(args[1]) };
    s->random_id = rnd64();
    rc = mtp_call_sync(c, &s->_, a, &o, &e);
    if (rc)
        ret = fail("messages.sendMessage", rc, &e);
    else if (g_json)
        print_obj(o);
    else
        printf("sent\n");
out:
    return ret;
}

static int run_history(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    mtp_arena_t *a = x->a;
    int nargs = x->nargs;
    char **args = x->args;
    int ret = 0;
    int limit = nargs == 3 ? atoi(args[2]) : 20;
    ret = cmd_history(c, a, args[0], limit, true, 0, NULL);
    return ret;
}

static int run_upload(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    mtp_arena_t *a = x->a;
    char **args = x->args;
    mtp_call_error_t e;
    memset(&e, 0, sizeof e);
    int ret = 0, rc;
    mtp_tl_object_t *ip, *o;
    rc = mtp_client_input_peer(c, args[0], a, &ip, &e);
    if (rc) {
        ret = fail("resolve peer", rc, &e);
        goto out;
    }
    mtp_upload_result_t up;
    double t0 = secs();
    rc = mtp_upload_file(c, args[1], progress_bar, NULL, &up, &e);
    double dt = secs() - t0;
    if (rc) {
        ret = fail("upload", rc, &e);
        goto out;
    }
    const char *base = strrchr(args[1], '/');
    base = base ? base + 1 : args[1];
    mtp_bytes_t name = { (const uint8_t *)base, strlen(base) };
    mtp_tl_object_t *file;
    if (up.big) {
        mtp_inputFileBig_t *f = MTP_NEW(a, inputFileBig);
        f->id = up.file_id;
        f->parts = up.parts;
        f->name = name;
        file = &f->_;
    } else {
        mtp_inputFile_t *f = MTP_NEW(a, inputFile);
        f->id = up.file_id;
        f->parts = up.parts;
        f->name = name;
        f->md5_checksum = (mtp_bytes_t){ (const uint8_t *)up.md5, strlen(up.md5) };
        file = &f->_;
    }
    mtp_documentAttributeFilename_t *fa = MTP_NEW(a, documentAttributeFilename);
    fa->file_name = name;
    mtp_inputMediaUploadedDocument_t *m = MTP_NEW(a, inputMediaUploadedDocument);
    m->file = file;
    m->mime_type = (mtp_bytes_t){ (const uint8_t *)"application/octet-stream", 24 };
    m->attributes.n = 1;
    m->attributes.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    m->attributes.v[0] = &fa->_;
    mtp_messages_sendMedia_t *s = MTP_NEW(a, messages_sendMedia);
    s->peer = ip;
    s->media = &m->_;
    s->message = (mtp_bytes_t){ (const uint8_t *)"", 0 };
    s->random_id = rnd64();
    rc = mtp_call_sync(c, &s->_, a, &o, &e);
    if (rc) {
        ret = fail("messages.sendMedia", rc, &e);
        goto out;
    }
    FILE *f = fopen(args[1], "rb");
    long size = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fclose(f);
    }
    if (g_json)
        printf("{\"upload\":\"ok\",\"bytes\":%ld,\"seconds\":%.3f,\"mib_per_s\":%.1f}\n",
               size, dt, dt > 0 ? size / 1048576.0 / dt : 0.0);
    else
        printf("uploaded %ld bytes in %.2f s (%.1f MiB/s)\n", size, dt,
               dt > 0 ? size / 1048576.0 / dt : 0.0);
out:
    return ret;
}

static int run_download(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    mtp_arena_t *a = x->a;
    int nargs = x->nargs;
    char **args = x->args;
    mtp_call_error_t e;
    memset(&e, 0, sizeof e);
    int ret = 0, rc;
    int mid = atoi(args[1]);
    const mtp_tl_object_t *m = NULL;
    ret = cmd_history(c, a, args[0], 1, false, mid, &m);
    if (ret)
        goto out;
    const mtp_tl_object_t *media = m ? ((const mtp_message_t *)m)->media : NULL;
    const mtp_tl_object_t *doc = media && media->tl->id == MTP_ID_messageMediaDocument
                                     ? ((const mtp_messageMediaDocument_t *)media)->document
                                     : NULL;
    if (!doc || doc->tl->id != MTP_ID_document) {
        fprintf(stderr, "mtproto-cli: message %d has no document\n", mid);
        ret = 1;
        goto out;
    }
    const mtp_document_t *d = (const mtp_document_t *)doc;
    char outname[512] = "download.bin";
    for (uint32_t k = 0; k < d->attributes.n; k++)
        if (d->attributes.v[k]->tl->id == MTP_ID_documentAttributeFilename) {
            const mtp_bytes_t *fn =
                &((const mtp_documentAttributeFilename_t *)d->attributes.v[k])->file_name;
            if (fn->len && fn->len < sizeof outname && !memchr(fn->ptr, '/', fn->len)) {
                memcpy(outname, fn->ptr, fn->len);
                outname[fn->len] = 0;
            }
        }
    const char *path = nargs == 4 ? args[3] : outname;
    double t0 = secs();
    rc = mtp_download_document(c, d->dc_id, d->id, d->access_hash, d->file_reference.ptr,
                               d->file_reference.len, d->size, path, 0, progress_bar, NULL,
                               &e);
    double dt = secs() - t0;
    if (rc)
        ret = fail("download", rc, &e);
    else if (g_json)
        printf("{\"download\":\"ok\",\"file\":\"%s\",\"bytes\":%lld,\"seconds\":%.3f,"
               "\"mib_per_s\":%.1f}\n", path, (long long)d->size, dt,
               dt > 0 ? d->size / 1048576.0 / dt : 0.0);
    else
        printf("downloaded %lld bytes to %s in %.2f s (%.1f MiB/s)\n", (long long)d->size,
               path, dt, dt > 0 ? d->size / 1048576.0 / dt : 0.0);
out:
    return ret;
}

static int run_call(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    mtp_arena_t *a = x->a;
    int nargs = x->nargs;
    char **args = x->args;
    int ret = 0, rc;
    const char *method = args[0];
    const char *js = nargs == 2 ? args[1] : "{}";
    while (*js == ' ')
        js++;
    size_t jl = strlen(js);
    char *full = malloc(jl + strlen(method) + 16);
    if (!full || js[0] != '{') {
        free(full);
        ret = die_usage("JSON must be an object");
        goto out;
    }
    const char *first = js + 1;
    while (*first == ' ')
        first++;
    if (!strncmp(first, "\"_\"", 3))
        strcpy(full, js);
    else {
        const char *rest = js + 1;
        while (*rest == ' ')
            rest++;
        sprintf(full, "{\"_\":\"%s\"%s%s", method, *rest == '}' ? "" : ",", rest);
    }
    mtp_tl_object_t *q = NULL, *o = NULL;
    char jerr[256] = "";
    rc = mtp_tl_from_json(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), full, strlen(full), a, &q,
                          jerr, sizeof jerr);
    free(full);
    if (rc || !q || !q->tl->is_method) {
        fprintf(stderr, "mtproto-cli: bad call: %s\n", jerr[0] ? jerr : "not a method");
        ret = 2;
        goto out;
    }
    (void)o;
    ret = raw_call(c, q, method);
out:
    return ret;
}

static int run_updates(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    int nargs = x->nargs;
    char **args = x->args;
    int ret = 0;
    long timeout = 0, limit = 0;
    for (int k = 0; k + 1 < nargs; k += 2)
        *(!strcmp(args[k], "--timeout") ? &timeout : &limit) = strtol(args[k + 1], NULL, 10);
    ret = cmd_updates(c, timeout, limit);
    return ret;
}

/* users.getUsers([inputUserSelf]): the id of the session's user (a session of a library
 * that does not store it). */
static int fetch_self(mtp_client_t *c, int64_t *id, mtp_call_error_t *e)
{
    static const uint8_t q[] = { 0x48, 0xa5, 0x91, 0x0d, 0x15, 0xc4, 0xb5, 0x1c,
                                 1, 0, 0, 0, 0x3f, 0xb1, 0xc1, 0xf7 };
    mtp_buf_t out;
    mtp_buf_init(&out);
    int rc = mtp_call_sync_raw(c, 0, 0, q, sizeof q, &out, e);
    const uint8_t *p = out.data;
    /* Vector<User> of one user#... flags:# (self: bit 10) flags2:# id:long */
    static const uint8_t vec[] = { 0x15, 0xc4, 0xb5, 0x1c, 1, 0, 0, 0 };
    if (!rc && (out.len < 28 || memcmp(p, vec, sizeof vec) || !(p[13] & 0x04)))
        rc = MTP_EPROTO;
    if (!rc) {
        uint64_t v = 0;
        for (int k = 7; k >= 0; k--)
            v = v << 8 | p[20 + k];
        *id = (int64_t)v;
        rc = *id > 0 ? 0 : MTP_EPROTO;
    }
    mtp_buf_free(&out);
    return rc;
}

static int session_convert(mtp_client_t *c, int nargs, char **args)
{
    const char *from = NULL, *to = "mtproto", *in = NULL;
    for (int k = 1; k < nargs; k++) {
        if (!strcmp(args[k], "--from"))
            from = args[++k];
        else if (!strcmp(args[k], "--to"))
            to = args[++k];
        else
            in = args[k];
    }
    mtp_session_info_t info;
    int rc, ff = mtp_session_format_from_name(from), tf = mtp_session_format_from_name(to);
    if (!ff) {
        rc = mtp_client_session_get_info(c, &info);
    } else {
        size_t len = 0;
        char *text = !strcmp(in, "-") ? read_file("/dev/stdin", &len) : read_file(in, &len);
        if (text && len >= 16 && !memcmp(text, "SQLite format 3", 16))
            rc = mtp_session_info_parse_sqlite(ff, (const uint8_t *)text, len, &info);
        else
            rc = mtp_session_info_parse(ff, text ? text : in, &info);
        if (text)
            memset(text, 0, len);
        free(text);
    }
    if (rc) {
        mtp_session_info_clear(&info);
        return fail(ff ? "session convert: cannot read the session" : "session convert", rc,
                    NULL);
    }
    int ret = 0;
    if (tf) {
        char *s = mtp_session_info_format(tf, &info, &rc);
        if (!s)
            ret = fail("session convert: the format needs what this session lacks", rc, NULL);
        else
            printf(g_json ? "{\"session\":\"%s\"}\n" : "%s\n", s);
        if (s)
            memset(s, 0, strlen(s));
        free(s);
    } else {
        mtp_call_error_t e;
        memset(&e, 0, sizeof e);
        rc = mtp_client_session_set_info(c, &info);
        if (!rc && !info.user_id && !(rc = fetch_self(c, &info.user_id, &e)))
            rc = mtp_client_session_set_info(c, &info);
        if (rc)
            ret = fail("session convert", rc, &e);
        else
            printf(g_json ? "{\"session\":\"imported\",\"from\":\"%s\",\"dc\":%d,"
                            "\"user_id\":%lld}\n"
                          : "session imported from %s: DC %d, user %lld\n",
                   from, info.dc_id, (long long)info.user_id);
    }
    mtp_session_info_clear(&info);
    return ret;
}

static int run_session(const cli_args_t *x)
{
    mtp_client_t *c = x->c;
    char **args = x->args;
    int ret = 0, rc;
    if (!strcmp(args[0], "convert"))
        return session_convert(c, x->nargs, args);
    if (!strcmp(args[0], "export")) {
        char *s = mtp_client_session_export(c);
        if (!s)
            ret = fail("session export", MTP_ENOMEM, NULL);
        else {
            printf(g_json ? "{\"session\":\"%s\"}\n" : "%s\n", s);
            free(s);
        }
    } else {
        char *in = strcmp(args[1], "-") == 0 ? read_file("/dev/stdin", NULL) : NULL;
        rc = strcmp(args[1], "-") == 0 && !in ? MTP_EIO
                                              : mtp_client_session_import(c, in ? in : args[1]);
        free(in);
        if (rc)
            ret = fail("session import", rc, NULL);
        else
            printf(g_json ? "{\"session\":\"imported\"}\n" : "session imported\n");
    }
    return ret;
}

typedef struct cli_cmd {
    const char *name;
    const char *usage;                      /* its lines of --help ("commands:") */
    bool (*args_ok)(int nargs, char **args);
    int (*run)(const cli_args_t *x);
    bool peer_arg;                          /* args[0] is a PEER, parsed before any network */
    bool needs_login;                       /* works only on a logged-in session */
} cli_cmd_t;

static const cli_cmd_t commands[] = {
    { "login",
      "  login --phone P [--code C]   log in with a phone number; asks for the code on the\n"
      "                               terminal when --code is absent, and for the 2FA password\n"
      "  login --phone P [--code C] --first-name F [--last-name L]\n"
      "                               the same, signing a new number up (auth.signUp; the\n"
      "                               terms of service are accepted)\n"
      "  login --bot TOKEN            log in as a bot\n",
      args_login, run_login, false, false },
    { "me",
      "  me                           the logged-in user\n",
      args_none, run_me, false, true },
    { "logout",
      "  logout                       log out (the session's authorization ends)\n",
      args_none, run_logout, false, true },
    { "send",
      "  send PEER TEXT               send a text message to PEER (see below)\n",
      args_peer_and_one, run_send, true, true },
    { "history",
      "  history PEER [--limit N]     the last N (default 20) messages with PEER\n",
      args_history, run_history, true, true },
    { "upload",
      "  upload PEER FILE             upload FILE and send it as a document\n",
      args_peer_and_one, run_upload, true, true },
    { "download",
      "  download PEER MSG_ID [-o F]  download the document of message MSG_ID (progress bar\n"
      "                               on a terminal); default file name: its file name\n",
      args_download, run_download, true, true },
    { "call",
      "  call METHOD [JSON]           call any API method of layer 228 with arguments in\n"
      "                               canonical JSON (fields of METHOD, \"_\" optional);\n"
      "                               prints the result as canonical JSON\n",
      args_call, run_call, false, false },
    { "updates",
      "  updates [--timeout S] [--limit N]\n"
      "                               receive updates: one canonical JSON line per update\n"
      "                               (layer-228 TL, e.g. {\"_\":\"updateNewMessage\",...}),\n"
      "                               until S seconds pass or N updates came (default: no\n"
      "                               limit, 0 = none). Starts with the updates missed since\n"
      "                               the session's saved state (updates.getDifference), or\n"
      "                               fetches the state (updates.getState) the first time;\n"
      "                               the state is kept in the session file\n",
      args_updates, run_updates, false, true },
    { "session",
      "  session export               print the session as one string\n"
      "  session convert --from F [--to T] [INPUT]\n"
      "                               sessions of other libraries (F, T: telethon pyrogram\n"
      "                               gramjs mtcute mtproto; INPUT: a string session, a\n"
      "                               Telethon/Pyrogram SQLite .session file or -: stdin).\n"
      "                               Without --to: import into this session; --from mtproto:\n"
      "                               this session in format T\n"
      "  session import STRING        replace the session with an exported one (STRING -:\n"
      "                               read it from stdin; large peer caches exceed argv)\n",
      args_session, run_session, false, false },
};

static const cli_cmd_t *find_command(const char *name)
{
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
        if (!strcmp(commands[k].name, name))
            return &commands[k];
    return NULL;
}

static void print_help(void)
{
    fputs(usage_head, stdout);
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
        fputs(commands[k].usage, stdout);
    fputs(usage_tail, stdout);
}

int main(int argc, char **argv)
{
    const char *server = NULL, *rsa_path = NULL, *transport = NULL;
    const char *session = getenv("MTP_SESSION");
    const char *api_hash = getenv("MTP_API_HASH");
    const char *api_id_s = getenv("MTP_API_ID");
    int dc = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            print_help();
            return 0;
        } else if (!strcmp(o, "--json"))
            g_json = true;
        else if (!strcmp(o, "--pretty"))
            g_pretty = true;
        else if (!strcmp(o, "--server") && has)
            server = argv[++i];
        else if (!strcmp(o, "--dc") && has)
            dc = atoi(argv[++i]);
        else if (!strcmp(o, "--rsa-key") && has)
            rsa_path = argv[++i];
        else if (!strcmp(o, "--transport") && has)
            transport = argv[++i];
        else if (!strcmp(o, "--session") && has)
            session = argv[++i];
        else if (!strcmp(o, "--api-id") && has)
            api_id_s = argv[++i];
        else if (!strcmp(o, "--api-hash") && has)
            api_hash = argv[++i];
        else
            return die_usage("unknown option or missing value");
    }
    if (i >= argc)
        return die_usage("no command");
    const char *cmd = argv[i++];
    int nargs = argc - i;
    char **args = argv + i;

    mtp_client_config_t cfg;
    mtp_client_config_init(&cfg);
    cfg.api_id = api_id_s ? atoi(api_id_s) : 0;
    cfg.api_hash = api_hash ? api_hash : "";
    cfg.session_path = session ? session : "mtproto.session";
    if (transport) {
        if (!strcmp(transport, "abridged"))
            cfg.transport = MTP_TRANSPORT_ABRIDGED;
        else if (!strcmp(transport, "intermediate"))
            cfg.transport = MTP_TRANSPORT_INTERMEDIATE;
        else if (!strcmp(transport, "padded"))
            cfg.transport = MTP_TRANSPORT_PADDED;
        else if (!strcmp(transport, "full"))
            cfg.transport = MTP_TRANSPORT_FULL;
        else if (!strcmp(transport, "obfuscated")) {
            cfg.transport = MTP_TRANSPORT_INTERMEDIATE;
            cfg.obfuscated = true;
        } else
            return die_usage("unknown transport");
    }
    char *pem = NULL;
    if (server) {
        if (dc < 1 || dc > MTP_CLIENT_MAX_DCS || mtp_client_dc_parse(&cfg.dcs[0], dc, server))
            return die_usage("bad --server/--dc");
        if (!rsa_path)
            return die_usage("--server needs --rsa-key");
        pem = read_file(rsa_path, NULL);
        if (!pem) {
            fprintf(stderr, "mtproto-cli: cannot read %s: %s\n", rsa_path, strerror(errno));
            return 1;
        }
        cfg.dcs_kind = MTP_CLIENT_DCS_CUSTOM;
        cfg.n_dcs = 1;
        cfg.rsa_pem = pem;
        cfg.first_dc = dc;
    }
    /* usage checks before any network */
    const cli_cmd_t *command = find_command(cmd);
    if (!command)
        return die_usage("unknown command");
    if (!command->args_ok(nargs, args)) {
        free(pem);
        return die_usage("bad arguments");
    }
    mtp_peer_spec_t spec;
    if (command->peer_arg && mtp_peer_spec_parse(args[0], &spec)) {
        free(pem);
        return die_usage("bad PEER: expected me, @username, a user id, -N (basic group) or "
                         "-100N (channel)");
    }

    char why[200];
    mtp_client_t *c = NULL;
    int err = mtp_client_config_check(&cfg, why, sizeof why);
    if (!err)
        err = mtp_client_new(&cfg, &c);
    free(pem);
    if (err) {
        fprintf(stderr, "mtproto-cli: cannot create the client: %s (%d)%s%s\n",
                mtp_strerror(err), err, why[0] ? ": " : "", why);
        return 1;
    }
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_call_error_t e;
    memset(&e, 0, sizeof e);
    int ret = 0;
    if (server) {
        int rc = mtp_client_update_dcs(c, dc, &e);
        if (rc) {
            ret = fail("help.getConfig", rc, &e);
            goto out;
        }
    }

    cli_args_t x = { c, a, nargs, args };
    ret = command->run(&x);
out:
    mtp_arena_free(a);
    mtp_client_free(c);
    return ret;
}
