/*
 * The client's peer cache: PEER specs, InputPeer kinds, generic feeding from decoded objects,
 * eviction, persistence (session file, export/import, the older format), and against the
 * in-process harness: two users, @username resolution, sending by numeric id from the cache,
 * the typed error for unknown ids, the users.getUsers probe, and mtproto-cli's PEER argument.
 */
#define _GNU_SOURCE
#include <mtproto/client.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define A_PHONE "9996621234"    /* user A, DC 2 */
#define B_PHONE "9996611111"    /* user B, DC 1 */
#define C_PHONE "9996631234"    /* user C, DC 3: never seen by A */
#define A_ID 9996621234LL
#define B_ID 9996611111LL
#define C_ID 9996631234LL

static tu_harness_t H;

static mtp_client_t *mk(const char *session, int max)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    cfg.session_path = session;
    cfg.peer_cache_max = max;
    mtp_client_t *c = NULL;
    int err = mtp_client_new(&cfg, &c);
    if (err)
        tap_bail("mtp_client_new: %d", err);
    return c;
}

static mtp_bytes_t S(const char *s)
{
    return (mtp_bytes_t){ (const uint8_t *)s, strlen(s) };
}

/* ---------------------------------------------------------------- unit level */

static void test_specs(void)
{
    mtp_peer_spec_t sp;
    OK(mtp_peer_spec_parse("me", &sp) == 0 && sp.type == MTP_PEER_SPEC_SELF, "spec: me");
    OK(mtp_peer_spec_parse("self", &sp) == 0 && sp.type == MTP_PEER_SPEC_SELF, "spec: self");
    OK(mtp_peer_spec_parse("@Some_User9", &sp) == 0 && sp.type == MTP_PEER_SPEC_USERNAME &&
           !strcmp(sp.username, "Some_User9"), "spec: @username");
    OK(mtp_peer_spec_parse("123456789", &sp) == 0 && sp.type == MTP_PEER_SPEC_ID &&
           sp.kind == MTP_PEER_USER && sp.id == 123456789, "spec: user id");
    OK(mtp_peer_spec_parse("-987654321", &sp) == 0 && sp.kind == MTP_PEER_CHAT &&
           sp.id == 987654321, "spec: -N is a basic group");
    OK(mtp_peer_spec_parse("-1001234567890", &sp) == 0 && sp.kind == MTP_PEER_CHANNEL &&
           sp.id == 1234567890, "spec: -100N is a channel (marked id)");
    OK(mtp_peer_spec_parse("-1000000000001", &sp) == 0 && sp.kind == MTP_PEER_CHANNEL &&
           sp.id == 1, "spec: smallest channel id");
    OK(mtp_peer_spec_parse("-999999999999", &sp) == 0 && sp.kind == MTP_PEER_CHAT &&
           sp.id == 999999999999LL, "spec: largest basic group id");
    OK(mtp_peer_spec_parse("4503599627370495", &sp) == 0 && sp.kind == MTP_PEER_USER,
       "spec: 2^52-1 is a user id");
    static const char *const bad[] = {
        "", "-", "abc", "99999999999999999999", "9999999999999999999", "0", "-0", "@",
        "@bad-name", "@bad name", " 12", "+12", "12a", "1e5", "--5", "-1000000000000",
        "-2000000000000", "-99999999999999999999", "4503599627370496", "me ", "Me",
        "@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    int rejected = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mtp_peer_spec_parse(bad[i], &sp);
        if (rc == MTP_EINVAL)
            rejected++;
        else
            tap_diag("accepted bad spec \"%s\"", bad[i]);
    }
    IS_INT(rejected, (long long)(sizeof bad / sizeof bad[0]), "bad specs rejected with MTP_EINVAL");
    OK(mtp_peer_spec_parse(NULL, &sp) == MTP_EINVAL, "NULL spec rejected");
    IS_INT(mtp_peer_marked_id(MTP_PEER_USER, 42), 42, "marked id: user");
    IS_INT(mtp_peer_marked_id(MTP_PEER_CHAT, 42), -42, "marked id: chat");
    IS_INT(mtp_peer_marked_id(MTP_PEER_CHANNEL, 1234567890), -1001234567890LL,
           "marked id: channel");
}

static void test_input_kinds(void)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    mtp_peer_t p = { .kind = MTP_PEER_USER, .id = 77, .access_hash = 5, .has_access_hash = true };
    OK(mtp_peer_input_peer(&p, a, &o) == 0 && o->tl->id == MTP_ID_inputPeerUser &&
           ((mtp_inputPeerUser_t *)o)->user_id == 77 &&
           ((mtp_inputPeerUser_t *)o)->access_hash == 5, "user -> inputPeerUser(id, hash)");
    OK(mtp_peer_input_user(&p, a, &o) == 0 && o->tl->id == MTP_ID_inputUser &&
           ((mtp_inputUser_t *)o)->access_hash == 5, "user -> inputUser");
    OK(mtp_peer_input_channel(&p, a, &o) == MTP_EINVAL, "user is no InputChannel");
    p = (mtp_peer_t){ .kind = MTP_PEER_CHAT, .id = 88 };
    OK(mtp_peer_input_peer(&p, a, &o) == 0 && o->tl->id == MTP_ID_inputPeerChat &&
           ((mtp_inputPeerChat_t *)o)->chat_id == 88, "chat -> inputPeerChat(id)");
    OK(mtp_peer_input_user(&p, a, &o) == MTP_EINVAL, "chat is no InputUser");
    p = (mtp_peer_t){ .kind = MTP_PEER_CHANNEL, .id = 99, .access_hash = -3,
                      .has_access_hash = true };
    OK(mtp_peer_input_peer(&p, a, &o) == 0 && o->tl->id == MTP_ID_inputPeerChannel &&
           ((mtp_inputPeerChannel_t *)o)->channel_id == 99 &&
           ((mtp_inputPeerChannel_t *)o)->access_hash == -3, "channel -> inputPeerChannel");
    OK(mtp_peer_input_channel(&p, a, &o) == 0 && o->tl->id == MTP_ID_inputChannel &&
           ((mtp_inputChannel_t *)o)->channel_id == 99, "channel -> inputChannel");
    mtp_arena_free(a);
}

static mtp_vec_obj_t vec(mtp_arena_t *a, int n, ...)
{
    mtp_vec_obj_t v = { (uint32_t)n, mtp_arena_alloc(a, (size_t)n * sizeof(mtp_tl_object_t *)) };
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        v.v[i] = va_arg(ap, mtp_tl_object_t *);
    va_end(ap);
    return v;
}

static mtp_user_t *mk_user(mtp_arena_t *a, int64_t id, int64_t hash, const char *uname, bool min)
{
    mtp_user_t *u = MTP_NEW(a, user);
    u->id = id;
    u->has_access_hash = true;
    u->access_hash = hash;
    u->min = min;
    if (uname) {
        u->has_username = true;
        u->username = S(uname);
    }
    return u;
}

/* A messages.messages with users and chats of every kind, encoded and decoded again so the
 * walk runs over decoder output. */
static mtp_tl_object_t *sample(mtp_arena_t *a)
{
    mtp_messages_messages_t *m = MTP_NEW(a, messages_messages);
    mtp_user_t *u1 = mk_user(a, 1001, 111, "Alice", false);
    mtp_user_t *u2 = mk_user(a, 1002, 222, NULL, false);
    mtp_username_t *un0 = MTP_NEW(a, username), *un1 = MTP_NEW(a, username);
    un0->username = S("old_name");                  /* not active */
    un1->username = S("collectible");
    un1->active = true;
    u2->has_usernames = true;
    u2->usernames = vec(a, 2, &un0->_, &un1->_);
    mtp_user_t *u3 = mk_user(a, 1003, 333, "minnie", true);
    mtp_chat_t *ch = MTP_NEW(a, chat);
    ch->id = 2001;
    ch->title = S("group");
    ch->photo = (mtp_tl_object_t *)MTP_NEW(a, chatPhotoEmpty);
    mtp_chatForbidden_t *cf = MTP_NEW(a, chatForbidden);
    cf->id = 2002;
    cf->title = S("gone");
    mtp_channel_t *cn = MTP_NEW(a, channel);
    cn->id = 3001;
    cn->has_access_hash = true;
    cn->access_hash = 444;
    cn->broadcast = true;
    cn->title = S("news");
    cn->has_username = true;
    cn->username = S("NewsChan");
    cn->photo = (mtp_tl_object_t *)MTP_NEW(a, chatPhotoEmpty);
    mtp_channelForbidden_t *cnf = MTP_NEW(a, channelForbidden);
    cnf->id = 3002;
    cnf->access_hash = 555;
    cnf->megagroup = true;
    cnf->title = S("banned");
    m->users = vec(a, 3, &u1->_, &u2->_, &u3->_);
    m->chats = vec(a, 4, &ch->_, &cf->_, &cn->_, &cnf->_);
    mtp_buf_t b;
    mtp_buf_init(&b);
    mtp_tl_object_t *o = NULL;
    if (mtp_tl_encode(&m->_, &b) ||
        mtp_tl_decode(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), b.data, b.len, a, &o))
        o = NULL;
    mtp_buf_free(&b);
    return o;
}

static void test_feed(void)
{
    mtp_client_t *c = mk(NULL, 0);
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = sample(a);
    OK(o != NULL, "sample messages.messages encodes and decodes");
    IS_INT(mtp_client_peers_feed(c, o), 7, "7 peers recorded from one result");
    IS_INT((long long)mtp_client_peers_count(c), 7, "cache holds 7");
    IS_INT(mtp_client_peers_feed(c, o), 0, "seeing them again changes nothing");
    mtp_peer_t p;
    OK(mtp_client_peer_get(c, MTP_PEER_USER, 1001, &p) == 0 && p.has_access_hash &&
           p.access_hash == 111 && !strcmp(p.username, "Alice") && !p.min, "user with hash and username");
    OK(mtp_client_peer_find_username(c, "@alice", &p) == 0 && p.id == 1001,
       "username lookup is case-insensitive");
    OK(mtp_client_peer_find_username(c, "collectible", &p) == 0 && p.id == 1002,
       "the active collectible username is used when username is absent");
    OK(mtp_client_peer_find_username(c, "old_name", &p) == MTP_ENOTFOUND, "inactive names are not");
    OK(mtp_client_peer_get(c, MTP_PEER_USER, 1003, &p) == 0 && p.min && p.access_hash == 333,
       "a min user is kept and marked min");
    OK(mtp_client_peer_get(c, MTP_PEER_CHAT, 2001, &p) == 0 && !p.has_access_hash, "chat");
    OK(mtp_client_peer_get(c, MTP_PEER_CHAT, 2002, &p) == 0, "chatForbidden");
    OK(mtp_client_peer_get(c, MTP_PEER_CHANNEL, 3001, &p) == 0 && p.access_hash == 444 &&
           p.broadcast && !strcmp(p.username, "NewsChan"), "channel with hash, username, broadcast");
    OK(mtp_client_peer_get(c, MTP_PEER_CHANNEL, 3002, &p) == 0 && p.access_hash == 555 &&
           p.megagroup, "channelForbidden with its access_hash");
    OK(mtp_client_peer_get(c, MTP_PEER_USER, 3001, &p) == MTP_ENOTFOUND,
       "kinds are separate id spaces");

    /* a min object never overwrites a full entry's hash; a full one replaces a min one */
    mtp_user_t *m1 = mk_user(a, 1001, 999, "AliceNew", true);
    mtp_user_t *f3 = mk_user(a, 1003, 334, "minnie", false);
    mtp_contacts_resolvedPeer_t *rp = MTP_NEW(a, contacts_resolvedPeer);
    rp->peer = (mtp_tl_object_t *)MTP_NEW(a, peerUser);
    rp->users = vec(a, 2, &m1->_, &f3->_);
    IS_INT(mtp_client_peers_feed(c, &rp->_), 2, "two entries changed");
    OK(mtp_client_peer_get(c, MTP_PEER_USER, 1001, &p) == 0 && p.access_hash == 111 &&
           !p.min && !strcmp(p.username, "AliceNew"), "min update: hash kept, username taken");
    OK(mtp_client_peer_get(c, MTP_PEER_USER, 1003, &p) == 0 && p.access_hash == 334 && !p.min,
       "full update replaces a min entry");
    /* a username moves to its new owner */
    mtp_user_t *u4 = mk_user(a, 1004, 4, "alicenew", false);
    mtp_client_peers_feed(c, &u4->_);
    OK(mtp_client_peer_find_username(c, "ALICENEW", &p) == 0 && p.id == 1004 &&
           mtp_client_peer_get(c, MTP_PEER_USER, 1001, &p) == 0 && p.username[0] == 0,
       "a username seen on another peer moves there");

    /* input objects from specs without the network */
    mtp_call_error_t e;
    OK(mtp_client_input_peer(c, "-2001", a, &o, &e) == 0 && o->tl->id == MTP_ID_inputPeerChat &&
           ((mtp_inputPeerChat_t *)o)->chat_id == 2001, "\"-2001\" -> inputPeerChat");
    OK(mtp_client_input_peer(c, "-12345", a, &o, &e) == 0 && o->tl->id == MTP_ID_inputPeerChat,
       "an uncached basic group needs no hash");
    OK(mtp_client_input_peer(c, "-1000000003001", a, &o, &e) == 0 &&
           o->tl->id == MTP_ID_inputPeerChannel &&
           ((mtp_inputPeerChannel_t *)o)->channel_id == 3001 &&
           ((mtp_inputPeerChannel_t *)o)->access_hash == 444, "\"-1000000003001\" -> inputPeerChannel");
    OK(mtp_client_input_channel(c, "@newschan", a, &o, &e) == 0 &&
           o->tl->id == MTP_ID_inputChannel && ((mtp_inputChannel_t *)o)->access_hash == 444,
       "@username of a channel -> inputChannel from the cache");
    OK(mtp_client_input_peer(c, "1004", a, &o, &e) == 0 && o->tl->id == MTP_ID_inputPeerUser &&
           ((mtp_inputPeerUser_t *)o)->access_hash == 4, "cached user id -> inputPeerUser");
    OK(mtp_client_input_user(c, "-2001", a, &o, &e) == MTP_EINVAL &&
           !strncmp(e.message, "PEER_TYPE_INVALID", 17), "a chat is no InputUser: %s", e.message);
    OK(mtp_client_input_peer(c, "me", a, &o, &e) == 0 && o->tl->id == MTP_ID_inputPeerSelf,
       "me -> inputPeerSelf");
    OK(mtp_client_input_user(c, "self", a, &o, &e) == 0 && o->tl->id == MTP_ID_inputUserSelf,
       "self -> inputUserSelf");
    int rc = mtp_client_input_peer(c, "-1009999999999", a, &o, &e);
    OK(rc == MTP_ENOTFOUND && e.err == MTP_ENOTFOUND && e.number == -1009999999999LL &&
           !strcmp(e.message, "PEER_ID_INVALID: id -1009999999999 not in the peer cache; resolve "
                              "it by @username or fetch dialogs first"),
       "unknown channel: typed error (%d, %s)", rc, e.message);
    static const char *const bad[] = { "-", "abc", "99999999999999999999", "", "@x y" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = NULL;
        rc = mtp_client_input_peer(c, bad[i], a, &o, &e);
        OK(rc == MTP_EINVAL && e.err == MTP_EINVAL && !o && !strncmp(e.message, "BAD_PEER", 8),
           "input_peer(\"%s\") rejected: %s", bad[i], e.message);
    }

    /* put by hand, clear */
    mtp_peer_t in = { .kind = MTP_PEER_CHANNEL, .id = 5, .access_hash = 6, .has_access_hash = true };
    strcpy(in.username, "handmade");
    OK(mtp_client_peer_put(c, &in) == 0 && mtp_client_peer_find_username(c, "handmade", &p) == 0 &&
           p.kind == MTP_PEER_CHANNEL && p.access_hash == 6, "peer_put");
    strcpy(in.username, "bad name");
    IS_INT(mtp_client_peer_put(c, &in), MTP_EINVAL, "peer_put checks the username");
    mtp_client_peers_clear(c);
    IS_INT((long long)mtp_client_peers_count(c), 0, "clear");
    mtp_arena_free(a);
    mtp_client_free(c);

    /* disabled cache */
    c = mk(NULL, -1);
    a = mtp_arena_new(0);
    mtp_client_peers_feed(c, sample(a));
    IS_INT((long long)mtp_client_peers_count(c), 0, "peer_cache_max < 0: nothing recorded");
    {
        mtp_peer_t pp = { .kind = MTP_PEER_USER, .id = 77, .access_hash = 5, .has_access_hash = true };
        IS_INT(mtp_client_peer_put(c, &pp), MTP_EDISABLED, "peer_put with the cache disabled: MTP_EDISABLED");
    }
    mtp_arena_free(a);
    mtp_client_free(c);
}

static void test_evict(void)
{
    mtp_client_t *c = mk(NULL, 100);
    mtp_peer_t p = { .kind = MTP_PEER_USER, .has_access_hash = true };
    for (int i = 1; i <= 150; i++) {
        p.id = i;
        p.access_hash = i * 7;
        snprintf(p.username, sizeof p.username, "u%d", i);
        mtp_client_peer_put(c, &p);
        if (i == 120) {         /* seen again: newest */
            mtp_peer_t q = { .kind = MTP_PEER_USER, .id = 30, .access_hash = 210,
                             .has_access_hash = true };
            strcpy(q.username, "u30");
            mtp_client_peer_put(c, &q);
        }
    }
    IS_INT((long long)mtp_client_peers_count(c), 100, "bounded at peer_cache_max");
    int old = 0, kept = 0;
    for (int i = 1; i <= 150; i++) {
        bool in = mtp_client_peer_get(c, MTP_PEER_USER, i, NULL) == 0;
        if (i <= 51 && i != 30)
            old += !in;
        else
            kept += in;
    }
    IS_INT(old, 50, "the 50 seen longest ago were evicted");
    IS_INT(kept, 100, "the rest (and the re-seen one) are kept");
    OK(mtp_client_peer_find_username(c, "u10", NULL) == MTP_ENOTFOUND &&
           mtp_client_peer_find_username(c, "u30", NULL) == 0 &&
           mtp_client_peer_find_username(c, "u150", NULL) == 0, "username index follows eviction");
    mtp_client_free(c);

    /* a large cache: 100k entries in, export/import out */
    c = mk(NULL, 0);
    double t0 = tu_now();
    for (int i = 1; i <= 120000; i++) {
        p.id = 5000000000LL + i;
        p.access_hash = i;
        snprintf(p.username, sizeof p.username, "big%d", i);
        mtp_client_peer_put(c, &p);
    }
    IS_INT((long long)mtp_client_peers_count(c), 100000, "default bound: 100000 entries");
    char *s = mtp_client_session_export(c);
    mtp_client_t *d = mk(NULL, 0);
    OK(s && mtp_client_session_import(d, s) == 0 && mtp_client_peers_count(d) == 100000 &&
           mtp_client_peer_find_username(d, "big120000", &p) == 0 && p.access_hash == 120000 &&
           mtp_client_peer_get(d, MTP_PEER_USER, 5000000000LL + 20000, NULL) == MTP_ENOTFOUND,
       "100000 entries survive export/import (%.2f s, %zu chars)", tu_now() - t0,
       s ? strlen(s) : 0);
    free(s);
    mtp_client_free(d);
    mtp_client_free(c);
}

/* ---------------------------------------------------------------- session formats */

static char *b64(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * (n / 3 + 1) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

static size_t unb64(const char *s, uint8_t **out)
{
    size_t n = strlen(s);
    *out = malloc(n);
    int len = EVP_DecodeBlock(*out, (const unsigned char *)s, (int)n);
    if (n && s[n - 1] == '=')
        len--;
    if (n > 1 && s[n - 2] == '=')
        len--;
    return (size_t)len;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The same session in format 1 (no peer section). */
static size_t to_v1(const uint8_t *v2, size_t n, uint8_t *out)
{
    uint32_t cnt = get32(v2 + 20);
    size_t end = 24 + cnt * (4 + 256 + 16);
    memcpy(out, v2, end);
    put32(out + 4, 1);
    put32(out + end, (uint32_t)crc32(0, out, (uInt)end));
    (void)n;
    return end + 4;
}

/* ---------------------------------------------------------------- against the harness */

static int send_text(mtp_client_t *c, const char *peer, const char *text, mtp_call_error_t *e)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *ip = NULL, *o = NULL;
    int rc = mtp_client_input_peer(c, peer, a, &ip, e);
    if (!rc) {
        mtp_messages_sendMessage_t *s = MTP_NEW(a, messages_sendMessage);
        s->peer = ip;
        s->message = S(text);
        s->random_id = (int64_t)(tu_now() * 1e6) ^ (int64_t)strlen(text);
        rc = mtp_call_sync(c, &s->_, a, &o, e);
    }
    mtp_arena_free(a);
    return rc;
}

/* Does the history with peer hold text? */
static bool history_has(mtp_client_t *c, const char *peer, const char *text)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *ip = NULL, *o = NULL;
    mtp_call_error_t e;
    bool found = false;
    if (!mtp_client_input_peer(c, peer, a, &ip, &e)) {
        mtp_messages_getHistory_t *g = MTP_NEW(a, messages_getHistory);
        g->peer = ip;
        g->limit = 50;
        if (!mtp_call_sync(c, &g->_, a, &o, &e)) {
            const mtp_vec_obj_t *ms = o->tl->id == MTP_ID_messages_messages
                                          ? &((mtp_messages_messages_t *)o)->messages
                                          : &((mtp_messages_messagesSlice_t *)o)->messages;
            for (uint32_t i = 0; i < ms->n; i++) {
                const mtp_message_t *m = (const mtp_message_t *)ms->v[i];
                if (m->_.tl->id == MTP_ID_message && m->message.len == strlen(text) &&
                    !memcmp(m->message.ptr, text, m->message.len))
                    found = true;
            }
        }
    }
    mtp_arena_free(a);
    return found;
}

static const char *cli_stdin;   /* file for the child's stdin, or NULL */

static int run_cli(const char *cli, const char *const *args, char *out, size_t cap, char *err,
                   size_t ecap)
{
    int po[2], pe[2];
    if (pipe(po) || pipe(pe))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        if (cli_stdin) {
            int fd = open(cli_stdin, O_RDONLY);
            if (fd >= 0)
                dup2(fd, 0);
        }
        close(po[0]);
        close(pe[0]);
        execv(cli, (char *const *)args);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t n = 0, m = 0;
    ssize_t r;
    while ((r = read(po[0], out + n, cap - 1 - n)) > 0 && n + 1 < cap)
        n += (size_t)r;
    while ((r = read(pe[0], err + m, ecap - 1 - m)) > 0 && m + 1 < ecap)
        m += (size_t)r;
    while (m && (err[m - 1] == '\n' || err[m - 1] == '\r'))
        m--;
    out[n] = 0;
    err[m] = 0;
    close(po[0]);
    close(pe[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_harness(const char *argv0)
{
    char sa[300], sb[300];
    snprintf(sa, sizeof sa, "%s/a.session", H.dir);
    snprintf(sb, sizeof sb, "%s/b.session", H.dir);
    mtp_call_error_t e;
    mtp_peer_t p;

    mtp_client_t *ca = mk(sa, 0), *cb = mk(sb, 0);
    IS_INT(mtp_login_phone(ca, A_PHONE, "22222", NULL, NULL, &e), 0, "A logs in (%s)", e.message);
    IS_INT(mtp_login_phone(cb, B_PHONE, "11111", NULL, NULL, &e), 0, "B logs in (%s)", e.message);
    OK(mtp_client_peer_get(ca, MTP_PEER_USER, A_ID, &p) == 0 && p.has_access_hash,
       "the login result fed the cache (own user)");
    OK(mtp_client_peer_get(ca, MTP_PEER_USER, B_ID, NULL) == MTP_ENOTFOUND, "A has not seen B yet");

    /* unknown id: users.getUsers with hash 0 is tried, the harness says userEmpty */
    char bid[32], cid[32], aid[32];
    snprintf(bid, sizeof bid, "%lld", B_ID);
    snprintf(cid, sizeof cid, "%lld", C_ID);
    snprintf(aid, sizeof aid, "%lld", A_ID);
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    int rc = mtp_client_input_peer(ca, bid, a, &o, &e);
    char want[160];
    snprintf(want, sizeof want, "PEER_ID_INVALID: id %s not in the peer cache; resolve it by "
                                "@username or fetch dialogs first", bid);
    OK(rc == MTP_ENOTFOUND && e.err == MTP_ENOTFOUND && e.number == B_ID &&
           !strcmp(e.message, want), "unknown user id: typed error (%d: %s)", rc, e.message);

    /* @username: resolved over the network, then by id from the cache */
    rc = mtp_client_input_peer(ca, "@user" B_PHONE, a, &o, &e);
    OK(rc == 0 && o->tl->id == MTP_ID_inputPeerUser &&
           ((mtp_inputPeerUser_t *)o)->user_id == B_ID, "@username resolved (%d %s)", rc, e.message);
    OK(mtp_client_peer_get(ca, MTP_PEER_USER, B_ID, &p) == 0 && p.has_access_hash &&
           !strcmp(p.username, "user" B_PHONE), "B is in A's cache with hash and username");
    int64_t b_hash = p.access_hash;
    IS_INT(send_text(ca, bid, "hello by id", &e), 0, "A sends to B by numeric id (%s)", e.message);
    OK(history_has(cb, "@user" A_PHONE, "hello by id"), "B got it");
    IS_INT(send_text(ca, "@USER" B_PHONE, "hello by name", &e), 0,
           "send by @username from the cache, any case");

    /* the own id without a cache entry: users.getUsers(hash 0) answers for oneself */
    mtp_client_peers_clear(ca);
    rc = mtp_client_input_peer(ca, aid, a, &o, &e);
    OK(rc == 0 && o->tl->id == MTP_ID_inputPeerUser && ((mtp_inputPeerUser_t *)o)->user_id == A_ID,
       "uncached own id resolved through users.getUsers (%d %s)", rc, e.message);
    OK(mtp_client_peer_get(ca, MTP_PEER_USER, A_ID, NULL) == 0, "the probe's answer fed the cache");
    rc = mtp_client_input_peer(ca, cid, a, &o, &e);
    OK(rc == MTP_ENOTFOUND && e.number == C_ID, "a never-seen user stays unknown (%s)", e.message);
    rc = mtp_client_input_peer(ca, "@nosuchuser", a, &o, &e);
    OK(rc == MTP_ERPC && !strcmp(e.message, "USERNAME_NOT_OCCUPIED"),
       "unknown username: the RPC error (%s)", e.message);

    /* results of any sync call feed the cache: getDialogs brings B back */
    mtp_messages_getDialogs_t *gd = MTP_NEW(a, messages_getDialogs);
    gd->offset_peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerEmpty);
    gd->limit = 10;
    rc = mtp_call_sync(ca, &gd->_, a, &o, &e);
    OK(rc == 0 && mtp_client_peer_get(ca, MTP_PEER_USER, B_ID, &p) == 0 &&
           p.access_hash == b_hash, "messages.getDialogs fed B back (%d %s)", rc, e.message);
    /* and of raw sync calls (decoded by the method's result type, Vector<User> here) */
    mtp_client_peers_clear(ca);
    {
        mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
        mtp_inputUser_t *iu = MTP_NEW(a, inputUser);
        iu->user_id = B_ID;
        iu->access_hash = b_hash;
        mtp_tl_object_t *one = &iu->_;
        g->id = (mtp_vec_obj_t){ 1, &one };
        mtp_buf_t body, res;
        mtp_buf_init(&body);
        mtp_buf_init(&res);
        mtp_tl_encode(&g->_, &body);
        rc = mtp_call_sync_raw(ca, 0, 0, body.data, body.len, &res, &e);
        OK(rc == 0 && mtp_client_peer_get(ca, MTP_PEER_USER, B_ID, NULL) == 0,
           "mtp_call_sync_raw(users.getUsers) fed the cache");
        mtp_buf_free(&body);
        mtp_buf_free(&res);
    }
    /* and mtp_call_sync's Vector<User> result (an mtp_tl_vector_t) */
    mtp_client_peers_clear(ca);
    {
        mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
        mtp_inputUser_t *iu = MTP_NEW(a, inputUser);
        iu->user_id = B_ID;
        iu->access_hash = b_hash;
        mtp_tl_object_t **one = mtp_arena_alloc(a, sizeof *one);
        one[0] = &iu->_;
        g->id = (mtp_vec_obj_t){ 1, one };
        rc = mtp_call_sync(ca, &g->_, a, &o, &e);
        const mtp_tl_vector_t *v = mtp_tl_as_vector(o);
        const mtp_user_t *u = v && v->n == 1 && v->v.obj[0]->tl->id == MTP_ID_user
                                  ? (const mtp_user_t *)v->v.obj[0] : NULL;
        OK(rc == 0 && u && u->id == B_ID && u->has_access_hash && u->access_hash == b_hash,
           "mtp_call_sync(users.getUsers): B in the vector (%d %s)", rc, e.message);
        OK(mtp_client_peer_get(ca, MTP_PEER_USER, B_ID, &p) == 0 && p.access_hash == b_hash,
           "mtp_call_sync(users.getUsers) fed the cache");
    }
    mtp_arena_free(a);
    mtp_client_free(ca);

    /* the session file keeps the cache (and stays 0600, written atomically) */
    struct stat st;
    OK(stat(sa, &st) == 0 && (st.st_mode & 0777) == 0600, "session file mode 0600");
    ca = mk(sa, 0);
    OK(mtp_client_peer_get(ca, MTP_PEER_USER, B_ID, &p) == 0 && p.access_hash == b_hash,
       "reloaded session file: B cached with the same hash");
    IS_INT(send_text(ca, bid, "after reload", &e), 0, "send by id after a reload (%s)", e.message);
    OK(history_has(cb, "@user" A_PHONE, "after reload"), "B got it");

    /* export / import */
    char *ex = mtp_client_session_export(ca);
    mtp_client_t *cm = mk(NULL, 0);
    OK(ex && mtp_client_session_import(cm, ex) == 0, "import of the export");
    OK(mtp_client_peer_get(cm, MTP_PEER_USER, B_ID, &p) == 0 && p.access_hash == b_hash,
       "imported session: B cached");
    IS_INT(send_text(cm, bid, "after import", &e), 0, "send by id after an import (%s)", e.message);

    /* a damaged peer section is refused as a whole; the older format still loads */
    uint8_t *bin = NULL;
    size_t n = unb64(ex, &bin);
    uint8_t *v1 = malloc(n + 4);
    size_t n1 = to_v1(bin, n, v1);
    char *ex1 = b64(v1, n1);
    OK(n1 < n && mtp_client_session_import(cm, ex1) == 0 && mtp_client_peers_count(cm) == 0 &&
           mtp_client_user_id(cm) == A_ID, "a version-1 export imports (keys, user; empty cache)");
    IS_INT(send_text(cm, "me", "v1 session works", &e), 0, "and is authorized (%s)", e.message);
    char v1path[300];
    snprintf(v1path, sizeof v1path, "%s/v1.session", H.dir);
    FILE *f = fopen(v1path, "wb");
    fwrite(v1, 1, n1, f);
    fclose(f);
    mtp_client_t *c1 = mk(v1path, 0);
    OK(mtp_client_user_id(c1) == A_ID && mtp_client_peers_count(c1) == 0,
       "a version-1 session file loads");
    IS_INT(send_text(c1, "@user" B_PHONE, "from v1 file", &e), 0, "and works (%s)", e.message);
    mtp_client_free(c1);
    c1 = mk(v1path, 0);
    OK(mtp_client_peer_get(c1, MTP_PEER_USER, B_ID, NULL) == 0,
       "it is rewritten in the new format with the cache");
    mtp_client_free(c1);
    size_t first = 24 + get32(bin + 20) * (4 + 256 + 16) + 4;   /* first entry's kind */
    bin[first] = 9;                        /* no such kind; the CRC made right */
    put32(bin + n - 4, (uint32_t)crc32(0, bin, (uInt)(n - 4)));
    char *bad = b64(bin, n);
    rc = mtp_client_session_import(cm, bad);
    OK(rc != 0, "a corrupt peer section is rejected (%d)", rc);
    free(bad);
    free(ex1);
    free(v1);
    free(bin);
    free(ex);
    mtp_client_free(cm);

    /* another account on the same client: the cache is dropped */
    IS_INT(mtp_logout(ca, &e), 0, "logout");
    IS_INT((long long)mtp_client_peers_count(ca), 0, "logout empties the cache");
    mtp_client_free(ca);
    mtp_client_free(cb);

    /* mtproto-cli */
    char cli[512];
    snprintf(cli, sizeof cli, "%s", argv0);
    char *slash = strrchr(cli, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(cli, '/');
    }
    if (slash)
        strcpy(slash, "/bin/mtproto-cli");
    if (access(cli, X_OK) != 0) {
        tap_skip("mtproto-cli not built", 11);
        return;
    }
    char out[65536], err[8192], hp[64], cs[300];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", H.ports[0]);
    snprintf(cs, sizeof cs, "%s/cli.session", H.dir);
#define CLI(...) { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", cs, "--api-id", "1", \
                   "--api-hash", "x", __VA_ARGS__, NULL }
    const char *h[] = { cli, "--help", NULL };
    int x = run_cli(cli, h, out, sizeof out, err, sizeof err);
    OK(x == 0 && strstr(out, "-100N") && strstr(out, "@username") && strstr(out, "-N"),
       "--help says what PEER accepts");
    const char *lg[] = CLI("login", "--phone", A_PHONE, "--code", "22222");
    x = run_cli(cli, lg, out, sizeof out, err, sizeof err);
    IS_INT(x, 0, "cli login");
    const char *s1[] = CLI("send", bid, "cli by id");
    x = run_cli(cli, s1, out, sizeof out, err, sizeof err);
    OK(x == 1 && strstr(err, "PEER_ID_INVALID: id 9996611111 not in the peer cache"),
       "cli send to an unseen id: exit 1 with the reason (%d: %s)", x, err);
    const char *s2[] = CLI("send", "@user" B_PHONE, "cli by name");
    x = run_cli(cli, s2, out, sizeof out, err, sizeof err);
    IS_INT(x, 0, "cli send @username (%s)", err);
    x = run_cli(cli, s1, out, sizeof out, err, sizeof err);
    IS_INT(x, 0, "cli send by id in the next run: the session kept the hash (%s)", err);
    const char *hi[] = CLI("history", bid, "--limit", "5");
    x = run_cli(cli, hi, out, sizeof out, err, sizeof err);
    OK(x == 0 && strstr(out, "cli by id") && strstr(out, "cli by name"), "cli history by id");
    const char *b1[] = CLI("send", "abc", "x");
    x = run_cli(cli, b1, out, sizeof out, err, sizeof err);
    OK(x == 2 && strstr(err, "bad PEER"), "cli: bad PEER is a usage error (%d)", x);
    const char *b2[] = CLI("history", "99999999999999999999");
    x = run_cli(cli, b2, out, sizeof out, err, sizeof err);
    IS_INT(x, 2, "cli: overflowing id is a usage error");
    const char *j1[] = CLI("--json", "send", cid, "x");
    x = run_cli(cli, j1, out, sizeof out, err, sizeof err);
    OK(x == 1 && strstr(err, "\"error\":\"not found\"") && strstr(err, "\"message\":\"PEER_ID_INVALID"),
       "cli --json: typed error with its message (%s)", err);
    /* export, then import from stdin into another session file */
    const char *ex2[] = CLI("session", "export");
    x = run_cli(cli, ex2, out, sizeof out, err, sizeof err);
    char exf[300];
    snprintf(exf, sizeof exf, "%s/export.txt", H.dir);
    FILE *ef = fopen(exf, "w");
    fputs(out, ef);
    fclose(ef);
    snprintf(cs, sizeof cs, "%s/cli2.session", H.dir);
    const char *im[] = CLI("session", "import", "-");
    cli_stdin = exf;
    int y = run_cli(cli, im, out, sizeof out, err, sizeof err);
    cli_stdin = NULL;
    OK(x == 0 && y == 0, "cli session export | session import - (%d %d %s)", x, y, err);
    const char *s3[] = CLI("send", bid, "via imported session");
    x = run_cli(cli, s3, out, sizeof out, err, sizeof err);
    IS_INT(x, 0, "cli send by id with the imported session (%s)", err);
#undef CLI
}

int main(int argc, char **argv)
{
    (void)argc;
    if (tu_harness_start(&H, "test_peers", NULL))
        tap_bail("harness did not start");

    test_specs();
    test_input_kinds();
    test_feed();
    test_evict();
    test_harness(argv[0]);

    tu_harness_stop(&H);
    return tap_done();
}
