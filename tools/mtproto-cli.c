/*
 * mtproto-cli — a command-line Telegram client on libmtproto (see --help).
 */
#define _GNU_SOURCE
#include <mtproto/chat.h>
#include <mtproto/client.h>
#include <mtproto/crypto.h>
#include <mtproto/iter.h>
#include <mtproto/net.h>
#include <mtproto/ops.h>
#include <mtproto/session_formats.h>
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>

#include "cli_name.h"

#include <errno.h>
#include <fcntl.h>
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
    "PEER (send, history, export, members, forward, leave, archive, profile, reactions ...):\n"
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

static void op_progress_bar(mtp_op_t *op, void *user, const mtp_op_progress_t *p)
{
    (void)op;
    progress_bar(user, p->done, p->total);
}

static int fd_write(void *user, uint64_t offset, const uint8_t *data, size_t len)
{
    int fd = *(int *)user;
    while (len) {
        ssize_t w = pwrite(fd, data, len, (off_t)offset);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return MTP_EIO;
        data += w;
        len -= (size_t)w;
        offset += (uint64_t)w;
    }
    return 0;
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

/* download PEER MSG_ID [-o F] [--force], the options in any order */
static bool args_download(int nargs, char **args)
{
    bool o = false, force = false;
    for (int k = 2; k < nargs; k++) {
        if (!strcmp(args[k], "-o") && !o && k + 1 < nargs)
            o = true, k++;
        else if (!strcmp(args[k], "--force") && !force)
            force = true;
        else
            return false;
    }
    return nargs >= 2;
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
    const char *opath = NULL;
    bool force = false;
    for (int k = 2; k < nargs; k++) {
        if (!strcmp(args[k], "-o"))
            opath = args[++k];
        else
            force = true;
    }
    /* the server's file name, made safe (cli_name.h); never an existing file or a
     * symlink unless --force (and then never through a symlink) */
    char outname[CLI_NAME_MAX + 1];
    const mtp_bytes_t *fn = NULL;
    for (uint32_t k = 0; k < d->attributes.n; k++)
        if (d->attributes.v[k]->tl->id == MTP_ID_documentAttributeFilename)
            fn = &((const mtp_documentAttributeFilename_t *)d->attributes.v[k])->file_name;
    cli_safe_name(fn ? fn->ptr : NULL, fn ? fn->len : 0, outname);
    const char *path = opath ? opath : outname;
    double t0 = secs();
    if (opath) {
        rc = mtp_download_document(c, d->dc_id, d->id, d->access_hash, d->file_reference.ptr,
                                   d->file_reference.len, d->size, path, 0, progress_bar, NULL,
                                   &e);
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
                                (force ? O_TRUNC : O_EXCL), 0644);
        if (fd < 0) {
            fprintf(stderr, "mtproto-cli: %s: %s%s\n", path, strerror(errno),
                    errno == EEXIST ? " (--force overwrites it)" : "");
            ret = 1;
            goto out;
        }
        mtp_download_params_t dp;
        mtp_download_params_init(&dp);
        dp.dc = d->dc_id;
        dp.id = d->id;
        dp.access_hash = d->access_hash;
        dp.file_reference = d->file_reference.ptr;
        dp.ref_len = d->file_reference.len;
        dp.size = d->size;
        dp.write = fd_write;
        dp.write_user = &fd;
        dp.progress = op_progress_bar;
        rc = mtp_download_document_to(c, &dp, &e);
        if (close(fd) && !rc)
            rc = MTP_EIO;
        if (rc && !force)
            unlink(path);       /* ours (created exclusively): no partial file left */
    }
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

/* ---------------------------------------------------------------------------------- */
/* paging commands (iterators, include/mtproto/iter.h) and chat actions (chat.h)       */
/* ---------------------------------------------------------------------------------- */

/* Command options after the positional arguments' start: "--name VALUE" or "--flag". */
typedef struct cli_opts {
    long long limit;
    long long min_id, max_id;
    long long since;
    bool reverse, resume, archived;
    const char *filter, *query, *media, *out;
    const char *pos[8];             /* positional arguments */
    int npos;
    int nids;
} cli_opts_t;

/* A date: unix seconds, or YYYY-MM-DD[THH:MM[:SS]] (UTC). -1 when bad. */
static long long parse_date(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && v >= 0)
        return v;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec);
    if (n != 3 && n != 5 && n != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? -1 : (long long)t;
}

static bool num_arg(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !*s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Parse a command's arguments; false on anything unknown or malformed. */
static bool parse_opts(int nargs, char **args, cli_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->limit = 0;
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        bool has = i + 1 < nargs;
        if (!strcmp(a, "--reverse"))
            o->reverse = true;
        else if (!strcmp(a, "--resume"))
            o->resume = true;
        else if (!strcmp(a, "--archived"))
            o->archived = true;
        else if (!strcmp(a, "--limit") && has) {
            if (!num_arg(args[++i], 1, (long long)1 << 40, &o->limit))
                return false;
        } else if (!strcmp(a, "--min-id") && has) {
            if (!num_arg(args[++i], 0, INT32_MAX, &o->min_id))
                return false;
        } else if (!strcmp(a, "--max-id") && has) {
            if (!num_arg(args[++i], 0, INT32_MAX, &o->max_id))
                return false;
        } else if (!strcmp(a, "--since") && has) {
            if ((o->since = parse_date(args[++i])) < 0 || o->since > INT32_MAX)
                return false;
        } else if (!strcmp(a, "--filter") && has)
            o->filter = args[++i];
        else if (!strcmp(a, "--query") && has)
            o->query = args[++i];
        else if (!strcmp(a, "--media") && has)
            o->media = args[++i];
        else if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && has)
            o->out = args[++i];
        else if (a[0] == '-' && a[1] == '-')
            return false;
        else if (o->npos < 8)
            o->pos[o->npos++] = a;
        else
            return false;
    }
    return true;
}

static bool args_dialogs(int nargs, char **args)
{
    cli_opts_t o;
    return parse_opts(nargs, args, &o) && o.npos == 0;
}

static bool args_iter_peer(int nargs, char **args)
{
    cli_opts_t o;
    return parse_opts(nargs, args, &o) && o.npos == 1;
}

static bool args_search(int nargs, char **args)
{
    cli_opts_t o;
    return parse_opts(nargs, args, &o) && (o.npos == 1 || o.npos == 2);
}

static bool args_forward(int nargs, char **args)
{
    long long v;
    if (nargs < 3 || nargs > 102)
        return false;
    for (int i = 1; i < nargs - 1; i++)
        if (!num_arg(args[i], 1, INT32_MAX, &v))
            return false;
    return true;
}

static bool args_one(int nargs, char **args)
{
    (void)args;
    return nargs == 1;
}

static bool args_create(int nargs, char **args)
{
    return nargs >= 2 && (!strcmp(args[0], "group") || !strcmp(args[0], "supergroup") ||
                          !strcmp(args[0], "channel")) &&
           (strcmp(args[0], "group") || nargs >= 3);
}

static bool args_reactions(int nargs, char **args)
{
    long long v;
    return nargs == 2 && num_arg(args[1], 1, INT32_MAX, &v);
}

/* "truncated" note: a limit stopped before the server's count. */
static void note_truncated(const char *what, mtp_iter_t *it, long long limit)
{
    int64_t total = mtp_iter_total(it), n = mtp_iter_count(it);
    if (limit && n >= limit && total > n)
        fprintf(stderr, g_json ? "{\"truncated\":true,\"what\":\"%s\",\"shown\":%lld,"
                                 "\"total\":%lld}\n"
                               : "mtproto-cli: %s: %lld of %lld shown (--limit)\n",
                what, (long long)n, (long long)total);
}

static void print_dialog(const mtp_tl_object_t *o)
{
    if (g_json || o->tl != &mtp_tlc_dialog) {
        print_obj(o);
        return;
    }
    const mtp_dialog_t *d = (const void *)o;
    long long id = 0;
    const char *kind = "user";
    if (d->peer && d->peer->tl == &mtp_tlc_peerUser)
        id = ((const mtp_peerUser_t *)d->peer)->user_id;
    else if (d->peer && d->peer->tl == &mtp_tlc_peerChannel)
        id = -(MTP_PEER_CHANNEL_MARK + ((const mtp_peerChannel_t *)d->peer)->channel_id),
        kind = "channel";
    else if (d->peer && d->peer->tl == &mtp_tlc_peerChat)
        id = -((const mtp_peerChat_t *)d->peer)->chat_id, kind = "group";
    printf("%lld\t%s\ttop %d\tunread %d%s\n", id, kind, d->top_message, d->unread_count,
           d->folder_id == 1 ? "\tarchived" : "");
}

static void print_user(const mtp_tl_object_t *o, const mtp_tl_object_t *part)
{
    if (g_json || o->tl != &mtp_tlc_user) {
        print_obj(o);
        return;
    }
    const mtp_user_t *u = (const void *)o;
    const char *role = !part ? "" : part->tl == &mtp_tlc_channelParticipantCreator ? "\tcreator"
                               : part->tl == &mtp_tlc_channelParticipantAdmin ? "\tadmin" : "";
    printf("%lld\t%s%.*s%s%.*s\t%.*s%s%s\n", (long long)u->id, u->has_username ? "@" : "",
           (int)u->username.len, (const char *)u->username.ptr, u->has_username ? "\t" : "",
           (int)u->first_name.len, (const char *)u->first_name.ptr, (int)u->last_name.len,
           (const char *)u->last_name.ptr, u->bot ? "\tbot" : "", role);
}

static void print_reaction(const mtp_tl_object_t *o)
{
    if (g_json || o->tl != &mtp_tlc_messagePeerReaction) {
        print_obj(o);
        return;
    }
    const mtp_messagePeerReaction_t *r = (const void *)o;
    long long uid = r->peer_id && r->peer_id->tl == &mtp_tlc_peerUser
                        ? ((const mtp_peerUser_t *)r->peer_id)->user_id : 0;
    const mtp_reactionEmoji_t *e = r->reaction && r->reaction->tl == &mtp_tlc_reactionEmoji
                                       ? (const void *)r->reaction : NULL;
    printf("%lld\t%.*s\t%d\n", uid, e ? (int)e->emoticon.len : 1,
           e ? (const char *)e->emoticon.ptr : "?", r->date);
}

static int member_filter(const char *s, bool query)
{
    if (!s)
        return query ? MTP_ITER_MEMBERS_SEARCH : MTP_ITER_MEMBERS_RECENT;
    static const char *const names[] = { "recent", "admins", "bots", "banned", "kicked",
                                         "search" };
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static int msg_filter(const char *s)
{
    if (!s || !strcmp(s, "any"))
        return MTP_ITER_MSG_ANY;
    if (!strcmp(s, "document") || !strcmp(s, "documents"))
        return MTP_ITER_MSG_DOCUMENT;
    if (!strcmp(s, "photo") || !strcmp(s, "media"))
        return MTP_ITER_MSG_PHOTO_VIDEO;
    if (!strcmp(s, "url"))
        return MTP_ITER_MSG_URL;
    return -1;
}

/* Run an iterator to its end (or limit), printing each item. */
static int run_iter(mtp_client_t *c, const mtp_iter_params_t *p, const char *what,
                    void (*print)(mtp_iter_t *it, const mtp_tl_object_t *o))
{
    mtp_iter_t *it = NULL;
    mtp_call_error_t e;
    int rc = mtp_iter_new(c, p, &it, &e);
    if (rc)
        return fail(what, rc, &e);
    const mtp_tl_object_t *o;
    while ((rc = mtp_iter_next(it, &o, &e)) == 1)
        print(it, o);
    fflush(stdout);
    int ret = rc < 0 ? fail(what, rc, &e) : 0;
    if (!ret)
        note_truncated(what, it, p->limit);
    else if (mtp_iter_count(it))
        fprintf(stderr, "mtproto-cli: %s: stopped after %lld items\n", what,
                (long long)mtp_iter_count(it));
    mtp_iter_free(it);
    return ret;
}

static void pr_message(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    (void)it;
    print_message(o);
}

static void pr_dialog(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    (void)it;
    print_dialog(o);
}

static void pr_user(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    print_user(o, mtp_iter_participant(it));
}

static void pr_reaction(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    (void)it;
    print_reaction(o);
}

static int run_dialogs(const cli_args_t *x)
{
    cli_opts_t o;
    parse_opts(x->nargs, x->args, &o);
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_DIALOGS;
    p.limit = o.limit;
    p.folder = o.archived ? 1 : 0;
    return run_iter(x->c, &p, "messages.getDialogs", pr_dialog);
}

static int run_history2(const cli_args_t *x)
{
    cli_opts_t o;
    parse_opts(x->nargs, x->args, &o);
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_HISTORY;
    p.peer = o.pos[0];
    p.limit = o.limit;
    p.reverse = o.reverse;
    p.min_id = (int32_t)o.min_id;
    p.max_id = (int32_t)o.max_id;
    p.since = (int32_t)o.since;
    return run_iter(x->c, &p, "messages.getHistory", pr_message);
}

static int run_search(const cli_args_t *x)
{
    cli_opts_t o;
    parse_opts(x->nargs, x->args, &o);
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = o.npos == 2 ? MTP_ITER_SEARCH : MTP_ITER_GLOBAL;
    p.peer = o.npos == 2 ? o.pos[0] : NULL;
    p.query = o.pos[o.npos - 1];
    p.limit = o.limit;
    p.since = (int32_t)o.since;
    if ((p.filter = msg_filter(o.filter)) < 0)
        return die_usage("--filter: any, document, photo, url");
    return run_iter(x->c, &p, o.npos == 2 ? "messages.search" : "messages.searchGlobal",
                    pr_message);
}

static int run_members(const cli_args_t *x)
{
    cli_opts_t o;
    parse_opts(x->nargs, x->args, &o);
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_PARTICIPANTS;
    p.peer = o.pos[0];
    p.limit = o.limit;
    p.query = o.query;
    if ((p.filter = member_filter(o.filter, o.query != NULL)) < 0)
        return die_usage("--filter: recent, admins, bots, banned, kicked, search");
    return run_iter(x->c, &p, "channels.getParticipants", pr_user);
}

static void pr_contact(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    (void)it;
    print_user(o, NULL);
}

static int run_contacts(const cli_args_t *x)
{
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_CONTACTS;
    return run_iter(x->c, &p, "contacts.getContacts", pr_contact);
}

static int run_reactions(const cli_args_t *x)
{
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_REACTIONS;
    p.peer = x->args[0];
    p.msg_id = atoi(x->args[1]);
    return run_iter(x->c, &p, "messages.getMessageReactionsList", pr_reaction);
}

/* ---- export: the whole history, oldest first, as JSON lines, resumable ---- */

/* The id of the last complete line of FILE (0 none); the file is cut after it. */
static long long export_tail(const char *path)
{
    FILE *f = fopen(path, "r+");
    if (!f)
        return 0;
    char line[65536];
    long long last = 0;
    long good = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (!n || line[n - 1] != '\n')
            break;                          /* a line cut by a kill */
        const char *p = strstr(line, "\"id\":");
        if (p)
            last = atoll(p + 5);
        good = ftell(f);
    }
    fflush(f);
    if (ftruncate(fileno(f), good) != 0)
        last = -1;
    fclose(f);
    return last;
}

static int export_media(mtp_client_t *c, const mtp_message_t *m, const char *dir)
{
    if (!m->media || m->media->tl != &mtp_tlc_messageMediaDocument)
        return 0;
    const mtp_tl_object_t *d = ((const mtp_messageMediaDocument_t *)m->media)->document;
    if (!d || d->tl != &mtp_tlc_document)
        return 0;
    const mtp_document_t *doc = (const void *)d;
    char path[4096];
    snprintf(path, sizeof path, "%s/%d", dir, m->id);
    mtp_call_error_t e;
    int rc = mtp_download_document(c, doc->dc_id, doc->id, doc->access_hash,
                                   doc->file_reference.ptr, doc->file_reference.len, doc->size,
                                   path, 0, NULL, NULL, &e);
    return rc ? fail("export media", rc, &e) : 0;
}

static int run_export(const cli_args_t *x)
{
    cli_opts_t o;
    parse_opts(x->nargs, x->args, &o);
    const char *out = o.out ? o.out : "export.jsonl";
    long long last = o.resume ? export_tail(out) : 0;
    if (last < 0) {
        fprintf(stderr, "mtproto-cli: export: cannot cut %s: %s\n", out, strerror(errno));
        return 1;
    }
    FILE *f = fopen(out, o.resume ? "a" : "w");
    if (!f) {
        fprintf(stderr, "mtproto-cli: export: %s: %s\n", out, strerror(errno));
        return 1;
    }
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_HISTORY;
    p.peer = o.pos[0];
    p.reverse = true;
    p.min_id = (int32_t)(last > o.min_id ? last : o.min_id);
    p.max_id = (int32_t)o.max_id;
    p.limit = o.limit;
    mtp_iter_t *it = NULL;
    mtp_call_error_t e;
    int rc = mtp_iter_new(x->c, &p, &it, &e);
    if (rc) {
        fclose(f);
        return fail("export", rc, &e);
    }
    const mtp_tl_object_t *m;
    mtp_buf_t b;
    mtp_buf_init(&b);
    long long n = 0;
    bool tty = isatty(2);
    int ret = 0;
    while ((rc = mtp_iter_next(it, &m, &e)) == 1) {
        b.len = 0;
        if (mtp_tl_to_json(m, &b) == 0)
            fprintf(f, "%.*s\n", (int)b.len, (const char *)b.data);
        if (o.media && m->tl == &mtp_tlc_message &&
            (ret = export_media(x->c, (const mtp_message_t *)m, o.media)) != 0)
            break;
        if (++n % 100 == 0) {
            fflush(f);              /* a kill loses at most the page in flight */
            if (tty)
                fprintf(stderr, "\rexported %lld / %lld", n + (last > 0 ? 0 : 0),
                        (long long)mtp_iter_total(it));
        }
    }
    if (tty)
        fputc('\n', stderr);
    if (!ret && rc < 0)
        ret = fail("export", rc, &e);
    if (fclose(f) && !ret)
        ret = fail("export: write", MTP_EIO, NULL);
    if (!ret)
        fprintf(stderr, g_json ? "{\"exported\":%lld,\"file\":\"%s\",\"resumed_after\":%lld}\n"
                               : "mtproto-cli: exported %lld messages to %s (after id %lld)\n",
                n, out, last);
    mtp_buf_free(&b);
    mtp_iter_free(it);
    return ret;
}

/* ---- actions ---- */

static int done_ok(const char *what, const char *detail)
{
    if (g_json) {
        printf("{\"ok\":true,\"what\":\"%s\",\"detail\":", what);
        json_str(stdout, (const uint8_t *)detail, strlen(detail));
        printf("}\n");
    } else {
        printf("%s%s%s\n", what, detail[0] ? ": " : "", detail);
    }
    return 0;
}

static int run_forward(const cli_args_t *x)
{
    int n = x->nargs - 2;
    int32_t ids[100];
    for (int i = 0; i < n; i++)
        ids[i] = atoi(x->args[1 + i]);
    mtp_call_error_t e;
    int rc = mtp_forward(x->c, x->args[0], ids, (size_t)n, x->args[x->nargs - 1], &e);
    if (rc)
        return fail("messages.forwardMessages", rc, &e);
    char d[32];
    snprintf(d, sizeof d, "%d message%s", n, n == 1 ? "" : "s");
    return done_ok("forwarded", d);
}

static int run_join(const cli_args_t *x)
{
    mtp_call_error_t e;
    mtp_peer_t p;
    memset(&p, 0, sizeof p);
    int rc = mtp_join(x->c, x->args[0], &p, &e);
    if (rc && rc != MTP_EEXIST)
        return fail("join", rc, &e);
    char d[160];
    if (p.kind)
        snprintf(d, sizeof d, "%lld%s", (long long)mtp_peer_marked_id(p.kind, p.id),
                 rc == MTP_EEXIST ? " (already a member)" : "");
    else
        snprintf(d, sizeof d, "%.100s%s", x->args[0], rc == MTP_EEXIST ? " (already a member)"
                                                                       : "");
    return done_ok("joined", d);
}

static int run_leave(const cli_args_t *x)
{
    mtp_call_error_t e;
    int rc = mtp_leave(x->c, x->args[0], &e);
    return rc ? fail("leave", rc, &e) : done_ok("left", x->args[0]);
}

static int run_archive(const cli_args_t *x, bool on)
{
    mtp_call_error_t e;
    int rc = mtp_archive(x->c, x->args[0], on, &e);
    return rc ? fail("folders.editPeerFolders", rc, &e)
              : done_ok(on ? "archived" : "unarchived", x->args[0]);
}

static int run_archive_on(const cli_args_t *x)
{
    return run_archive(x, true);
}

static int run_archive_off(const cli_args_t *x)
{
    return run_archive(x, false);
}

static int run_create(const cli_args_t *x)
{
    mtp_chat_kind_t k = !strcmp(x->args[0], "group")        ? MTP_CHAT_GROUP
                        : !strcmp(x->args[0], "supergroup") ? MTP_CHAT_SUPERGROUP
                                                            : MTP_CHAT_CHANNEL;
    mtp_call_error_t e;
    mtp_peer_t p;
    int rc = mtp_create_chat(x->c, k, x->args[1], (const char *const *)x->args + 2,
                             (size_t)(x->nargs - 2), &p, &e);
    if (rc)
        return fail("create", rc, &e);
    char d[32];
    snprintf(d, sizeof d, "%lld", (long long)mtp_peer_marked_id(p.kind, p.id));
    return done_ok("created", d);
}

static int run_profile(const cli_args_t *x)
{
    mtp_call_error_t e;
    mtp_tl_object_t *o = NULL;
    int rc = mtp_profile(x->c, x->args[0], x->a, &o, &e);
    if (rc)
        return fail("users.getFullUser", rc, &e);
    if (g_json || !o || o->tl != &mtp_tlc_users_userFull) {
        print_obj(o);
        return 0;
    }
    const mtp_users_userFull_t *uf = (const void *)o;
    for (uint32_t i = 0; i < uf->users.n; i++)
        print_user(uf->users.v[i], NULL);
    if (uf->full_user && uf->full_user->tl == &mtp_tlc_userFull) {
        const mtp_userFull_t *f = (const void *)uf->full_user;
        printf("about\t%.*s\n", (int)f->about.len, (const char *)f->about.ptr);
    }
    return 0;
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
      "  history PEER [--limit N] [--since DATE] [--reverse] [--min-id N] [--max-id N]\n"
      "                               the messages with PEER, newest first (--reverse: oldest\n"
      "                               first), paged to the end or N; DATE: unix time or\n"
      "                               YYYY-MM-DD[THH:MM[:SS]] UTC; a limit short of the\n"
      "                               server's count says so on stderr\n",
      args_iter_peer, run_history2, true, true },
    { "export",
      "  export PEER [-o FILE] [--media DIR] [--resume]\n"
      "                               the whole history, oldest first, as JSON lines in FILE\n"
      "                               (default export.jsonl); --resume continues after the\n"
      "                               last complete line; --media downloads documents to DIR\n",
      args_iter_peer, run_export, true, true },
    { "dialogs",
      "  dialogs [--archived] [--limit N]   the chat list (--archived: folder 1)\n",
      args_dialogs, run_dialogs, false, true },
    { "search",
      "  search [PEER] QUERY [--filter any|document|photo|url] [--since DATE] [--limit N]\n"
      "                               messages.search in PEER, or messages.searchGlobal\n",
      args_search, run_search, false, true },
    { "members",
      "  members PEER [--filter recent|admins|bots|banned|kicked] [--query Q] [--limit N]\n"
      "                               the members of a supergroup or channel\n",
      args_iter_peer, run_members, true, true },
    { "forward",
      "  forward FROM ID... TO        forward messages (fresh random ids)\n",
      args_forward, run_forward, true, true },
    { "join",
      "  join LINK|@name              join by t.me/+HASH, t.me/joinchat/HASH or a public name\n",
      args_one, run_join, false, true },
    { "leave",
      "  leave PEER                   leave a group or channel\n",
      args_one, run_leave, true, true },
    { "create",
      "  create group|supergroup|channel TITLE [USER...]   a new chat (a group needs users)\n",
      args_create, run_create, false, true },
    { "archive",
      "  archive PEER / unarchive PEER   move a chat to the archive (folder 1) and back\n",
      args_one, run_archive_on, true, true },
    { "unarchive", "", args_one, run_archive_off, true, true },
    { "contacts",
      "  contacts                     the contact list\n",
      args_none, run_contacts, false, true },
    { "profile",
      "  profile PEER                 a user's full profile (users.getFullUser)\n",
      args_one, run_profile, true, true },
    { "reactions",
      "  reactions PEER MSG_ID        who reacted with what to a message\n",
      args_reactions, run_reactions, true, true },
    { "upload",
      "  upload PEER FILE             upload FILE and send it as a document\n",
      args_peer_and_one, run_upload, true, true },
    { "download",
      "  download PEER MSG_ID [-o F] [--force]\n"
      "                               download the document of message MSG_ID (progress bar\n"
      "                               on a terminal) into F, or into its file name made safe\n"
      "                               (one component: '/', '\\', control characters and a\n"
      "                               leading dot become '_', at most 200 bytes; else\n"
      "                               download.bin) in the current directory, which must not\n"
      "                               exist (--force: overwrite a file, never a symlink)\n",
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
