/*
 * Chat action helpers (include/mtproto/chat.h) and the smaller iterators (dialogs with
 * folders, contacts, reactions, global search) against the in-process harness seeded with
 * populate_messages = 500, populate_members = 300; every effect checked from the harness's
 * own answers (history, member lists, dialogs), plus the harness's page rate (FLOOD_WAIT).
 */
#include <mtproto/chat.h>
#include <mtproto/client.h>
#include <mtproto/iter.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define A_PHONE "9996611111"        /* DC 1, code 11111 */
#define B_PHONE "9996611112"

static tu_harness_t H;

static uint64_t mtp_client_stats_floods(mtp_client_t *c)
{
    mtp_client_stats_t st;
    mtp_client_stats(c, &st);
    return st.flood_waits;
}

static mtp_client_t *mk(const char *phone)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    mtp_client_t *c = NULL;
    int err = mtp_client_new(&cfg, &c);
    if (err)
        tap_bail("mtp_client_new: %d", err);
    mtp_call_error_t e;
    if (mtp_login_phone(c, phone, "11111", NULL, NULL, &e))
        tap_bail("login: %s", e.message);
    return c;
}

/* Items of an iterator (objects copied out as ids via fn). */
static int64_t count_iter(mtp_client_t *c, mtp_iter_params_t *p, int32_t *ids, int64_t cap,
                          int *rc_out, mtp_call_error_t *e)
{
    mtp_iter_t *it = NULL;
    int64_t n = 0;
    *rc_out = mtp_iter_new(c, p, &it, e);
    if (*rc_out)
        return -1;
    const mtp_tl_object_t *o;
    while ((*rc_out = mtp_iter_next(it, &o, e)) == 1) {
        if (ids && n < cap)
            ids[n] = o->tl == &mtp_tlc_message ? ((const mtp_message_t *)o)->id : 0;
        n++;
    }
    mtp_iter_free(it);
    return n;
}

static const mtp_message_t *newest(mtp_client_t *c, const char *peer, mtp_arena_t *a)
{
    mtp_messages_getHistory_t *q = MTP_NEW(a, messages_getHistory);
    mtp_tl_object_t *res = NULL;
    mtp_call_error_t e;
    if (mtp_client_input_peer(c, peer, a, &q->peer, &e))
        return NULL;
    q->limit = 1;
    if (mtp_call_sync(c, &q->_, a, &res, &e) || !res)
        return NULL;
    const mtp_vec_obj_t *v = res->tl == &mtp_tlc_messages_channelMessages
                                 ? &((const mtp_messages_channelMessages_t *)res)->messages
                             : res->tl == &mtp_tlc_messages_messages
                                 ? &((const mtp_messages_messages_t *)res)->messages
                             : res->tl == &mtp_tlc_messages_messagesSlice
                                 ? &((const mtp_messages_messagesSlice_t *)res)->messages
                                 : NULL;
    return v && v->n && v->v[0]->tl == &mtp_tlc_message ? (const void *)v->v[0] : NULL;
}

static void test_join_create_forward(mtp_client_t *a)
{
    mtp_call_error_t e;
    mtp_peer_t p;
    char hash[64];
    IS_INT(mtp_invite_hash("https://t.me/+HarnessJoin", hash, sizeof hash), 0, "t.me/+ link");
    OK(strcmp(hash, "HarnessJoin") == 0, "its hash");
    IS_INT(mtp_invite_hash("t.me/joinchat/AbC-d_1", hash, sizeof hash), 0, "joinchat link");
    OK(strcmp(hash, "AbC-d_1") == 0, "its hash");
    IS_INT(mtp_invite_hash("@harness_group", hash, sizeof hash), MTP_EINVAL, "@name: no hash");
    IS_INT(mtp_invite_hash("t.me/harness_group", hash, sizeof hash), MTP_EINVAL,
           "public link: no hash");

    IS_INT(mtp_join(a, "t.me/+HarnessOld", NULL, &e), MTP_ERPC, "expired link");
    OK(strcmp(e.message, "INVITE_HASH_EXPIRED") == 0, "INVITE_HASH_EXPIRED (%s)", e.message);
    IS_INT(mtp_join(a, "https://t.me/+HarnessJoin", &p, &e), 0, "join by link (%s)", e.message);
    IS_INT(p.kind, MTP_PEER_CHANNEL, "the private group");
    IS_INT(mtp_join(a, "https://t.me/+HarnessJoin", NULL, &e), MTP_EEXIST, "joined already");

    mtp_iter_params_t ip;
    mtp_iter_params_init(&ip);
    ip.kind = MTP_ITER_PARTICIPANTS;
    char spec[32];
    snprintf(spec, sizeof spec, "-100%lld", (long long)p.id);
    ip.peer = spec;
    int rc;
    int64_t n = count_iter(a, &ip, NULL, 0, &rc, &e);
    IS_INT(n, 52, "the harness lists its creator, the 50 seeded members and us");

    IS_INT(mtp_join(a, "@harness_channel", NULL, &e), 0, "join @harness_channel");
    IS_INT(mtp_join(a, "t.me/harness_channel", NULL, &e), MTP_EEXIST, "again: EEXIST");

    /* create, forward into it, check from its history */
    mtp_peer_t ch;
    IS_INT(mtp_create_chat(a, MTP_CHAT_CHANNEL, "Forwards", NULL, 0, &ch, &e), 0,
           "create a channel (%s)", e.message);
    OK(ch.broadcast, "a broadcast channel");
    mtp_peer_t sg;
    IS_INT(mtp_create_chat(a, MTP_CHAT_SUPERGROUP, "Group", NULL, 0, &sg, &e), 0,
           "create a supergroup");
    OK(sg.megagroup && !sg.broadcast, "a supergroup");
    char to[32];
    snprintf(to, sizeof to, "-100%lld", (long long)ch.id);
    int32_t ids[3] = { 500, 499, 7 };
    IS_INT(mtp_forward(a, "@harness_channel", ids, 3, to, &e), 0, "forward 3 (%s)", e.message);
    mtp_arena_t *ar = mtp_arena_new(0);
    const mtp_message_t *m = newest(a, to, ar);
    OK(m && m->fwd_from, "the newest post of the new channel is a forward");
    if (m && m->fwd_from && m->fwd_from->tl == &mtp_tlc_messageFwdHeader) {
        const mtp_messageFwdHeader_t *h = (const void *)m->fwd_from;
        IS_INT(h->channel_post, 7, "of post 7");
        OK(m->message.len && memcmp(m->message.ptr, "Post 7 ", 7) == 0, "with its text");
    }
    mtp_iter_params_init(&ip);
    ip.kind = MTP_ITER_HISTORY;
    ip.peer = to;
    n = count_iter(a, &ip, NULL, 0, &rc, &e);
    IS_INT(n, 3, "three messages in the new channel");
    int32_t bad[1] = { 100000 };
    IS_INT(mtp_forward(a, "@harness_channel", bad, 1, to, &e), MTP_ERPC, "unknown id");
    OK(strcmp(e.message, "MSG_ID_INVALID") == 0, "MSG_ID_INVALID");

    /* delete one of them */
    int32_t del = m ? m->id : 0, deleted = 0;
    IS_INT(mtp_delete_messages(a, to, &del, 1, true, &deleted, &e), 0, "delete");
    IS_INT(deleted, 1, "one deleted");
    n = count_iter(a, &ip, NULL, 0, &rc, &e);
    IS_INT(n, 2, "two left in the history");

    IS_INT(mtp_leave(a, "@harness_channel", &e), 0, "leave (%s)", e.message);
    IS_INT(mtp_leave(a, "@harness_channel", &e), MTP_ERPC, "leave again");
    OK(strcmp(e.message, "USER_NOT_PARTICIPANT") == 0, "USER_NOT_PARTICIPANT");
    mtp_arena_free(ar);
}

static void test_dialogs_contacts(mtp_client_t *a, mtp_client_t *b)
{
    mtp_call_error_t e;
    /* a message between A and B: contacts and dialogs of both */
    mtp_arena_t *ar = mtp_arena_new(0);
    mtp_messages_sendMessage_t *sm = MTP_NEW(ar, messages_sendMessage);
    mtp_tl_object_t *res;
    char bspec[32];
    snprintf(bspec, sizeof bspec, "%lld", (long long)mtp_client_user_id(b));
    mtp_peer_t bp = { 0 };
    bp.kind = MTP_PEER_USER;
    bp.id = mtp_client_user_id(b);
    /* A learns B's access hash from B's own user object */
    mtp_users_getUsers_t *gu = MTP_NEW(ar, users_getUsers);
    mtp_tl_object_t *self = (mtp_tl_object_t *)MTP_NEW(ar, inputUserSelf);
    gu->id = (mtp_vec_obj_t){ 1, &self };
    IS_INT(mtp_call_sync(b, &gu->_, ar, &res, &e), 0, "B's user");
    const mtp_tl_vector_t *v = mtp_tl_as_vector(res);
    OK(v && v->n == 1, "one user");
    if (v && v->n == 1)
        mtp_client_peers_feed(a, v->v.obj[0]);
    IS_INT(mtp_client_input_peer(a, bspec, ar, &sm->peer, &e), 0, "A knows B");
    sm->message = (mtp_bytes_t){ (const uint8_t *)"hello B", 7 };
    sm->random_id = 42;
    IS_INT(mtp_call_sync(a, &sm->_, ar, &res, &e), 0, "A writes to B");

    mtp_iter_params_t ip;
    mtp_iter_params_init(&ip);
    ip.kind = MTP_ITER_CONTACTS;
    int rc;
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), 1, "A's contacts: B");
    IS_INT(rc, 0, "contacts: no error");

    ip.kind = MTP_ITER_DIALOGS;
    int64_t before = count_iter(a, &ip, NULL, 0, &rc, &e);
    IS_INT(before, 2, "A's dialogs: B and the new channel (the empty chats have no top message)");
    IS_INT(mtp_archive(a, bspec, true, &e), 0, "archive B (%s)", e.message);
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), before - 1, "one dialog fewer");
    ip.folder = 1;
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), 1, "one in the archive");
    IS_INT(mtp_archive(a, bspec, false, &e), 0, "unarchive");
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), 0, "archive empty");
    ip.folder = 0;
    ip.page_size = 1;
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), before, "pages of one dialog: all, once");

    /* a basic group with B: its members through messages.getFullChat; B leaves */
    mtp_peer_t g;
    const char *members[] = { bspec };
    IS_INT(mtp_create_chat(a, MTP_CHAT_GROUP, "Basic", members, 1, &g, &e), 0,
           "create a basic group (%s)", e.message);
    IS_INT(g.kind, MTP_PEER_CHAT, "a chat");
    char gspec[32];
    snprintf(gspec, sizeof gspec, "-%lld", (long long)g.id);
    mtp_iter_params_t gp;
    mtp_iter_params_init(&gp);
    gp.kind = MTP_ITER_PARTICIPANTS;
    gp.peer = gspec;
    IS_INT(count_iter(a, &gp, NULL, 0, &rc, &e), 2, "its members: A and B");
    IS_INT(rc, 0, "no error (%s)", e.message);
    IS_INT(mtp_leave(b, gspec, &e), 0, "B leaves the group (%s)", e.message);
    IS_INT(count_iter(a, &gp, NULL, 0, &rc, &e), 1, "A alone");
    IS_INT(mtp_leave(b, gspec, &e), MTP_ERPC, "B leaves again");

    /* profile */
    mtp_tl_object_t *full = NULL;
    IS_INT(mtp_profile(a, bspec, ar, &full, &e), 0, "profile of B");
    OK(full && full->tl == &mtp_tlc_users_userFull, "users.userFull");
    if (full && full->tl == &mtp_tlc_users_userFull) {
        const mtp_users_userFull_t *uf = (const void *)full;
        OK(uf->users.n == 1 && ((const mtp_user_t *)uf->users.v[0])->id == bp.id, "of B");
    }

    /* mark read: B's unread count of the chat with A drops to 0 */
    char aspec[32];
    snprintf(aspec, sizeof aspec, "%lld", (long long)mtp_client_user_id(a));
    mtp_messages_getDialogs_t *gd = MTP_NEW(ar, messages_getDialogs);
    gd->offset_peer = (mtp_tl_object_t *)MTP_NEW(ar, inputPeerEmpty);
    gd->limit = 10;
    IS_INT(mtp_call_sync(b, &gd->_, ar, &res, &e), 0, "B's dialogs");
    IS_INT(mtp_mark_read(b, aspec, 0, &e), 0, "B marks A's chat read (%s)", e.message);
    IS_INT(mtp_call_sync(b, &gd->_, ar, &res, &e), 0, "B's dialogs again");
    const mtp_messages_dialogs_t *ds = (const void *)res;
    OK(res->tl == &mtp_tlc_messages_dialogs && ds->dialogs.n == 1, "one dialog");
    if (res->tl == &mtp_tlc_messages_dialogs && ds->dialogs.n == 1)
        IS_INT(((const mtp_dialog_t *)ds->dialogs.v[0])->unread_count, 0, "nothing unread");
    mtp_arena_free(ar);
}

static void test_reactions_search(mtp_client_t *a, mtp_client_t *b)
{
    mtp_call_error_t e;
    IS_INT(mtp_send_reaction(a, "@harness_channel", 497, "\xe2\x9d\xa4", &e), 0,
           "A reacts to post 497 (%s)", e.message);
    IS_INT(mtp_send_reaction(b, "@harness_channel", 497, "\xe2\x9d\xa4", &e), 0, "B too");
    IS_INT(mtp_send_reaction(b, "@harness_channel", 100000, "x", &e), MTP_ERPC, "no message");
    OK(strcmp(e.message, "MSG_ID_INVALID") == 0, "MSG_ID_INVALID");
    mtp_iter_params_t ip;
    mtp_iter_params_init(&ip);
    ip.kind = MTP_ITER_REACTIONS;
    ip.peer = "@harness_channel";
    ip.msg_id = 497;
    ip.page_size = 2;
    int rc;
    /* 497 = 7 * 71: 1 + 497 % 5 = 3 seeded 👍, and our two ❤ */
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), 5, "five reactions, over pages of two");
    IS_INT(rc, 0, "no error");
    ip.query = "\xe2\x9d\xa4";
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), 2, "two of them hearts");
    IS_INT(mtp_send_reaction(b, "@harness_channel", 497, NULL, &e), 0, "B takes it back");
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), 1, "one heart left");

    /* global search: A is in the private group (20 posts "Hello from member N") */
    mtp_iter_params_init(&ip);
    ip.kind = MTP_ITER_GLOBAL;
    ip.query = "hello";
    ip.page_size = 3;
    IS_INT(count_iter(a, &ip, NULL, 0, &rc, &e), 1, "global search 'hello': our message");
    ip.query = "Post";
    int64_t n = count_iter(a, &ip, NULL, 0, &rc, &e);
    IS_INT(n, 2, "'Post': the two forwards left in our channel");
    IS_INT(rc, 0, "no error");

    /* the harness's page rate: 3 pages a second, the iterator waits out FLOOD_WAIT */
    mtp_iter_params_init(&ip);
    ip.kind = MTP_ITER_HISTORY;
    ip.peer = "@harness_channel";
    ip.page_size = 50;
    mtp_iter_t *it = NULL;
    mtp_server_set_page_rate(H.srv, 3);
    IS_INT(mtp_iter_new(b, &ip, &it, &e), 0, "history iterator");
    const mtp_tl_object_t *o;
    int64_t got = 0;
    while ((rc = mtp_iter_next(it, &o, &e)) == 1)
        got++;
    IS_INT(rc, 0, "paged to the end (%s)", e.message);
    IS_INT(got, 500, "every post once");
    int64_t pages, floods;
    mtp_iter_stats(it, &pages, &floods);
    OK(floods > 0 || mtp_client_stats_floods(b) > 0, "FLOOD_WAIT was answered and waited out");
    mtp_server_set_page_rate(H.srv, 0);
    mtp_iter_free(it);
}

int main(void)
{
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 1;
    sc.rsa_key_path = "tests/vectors/harness_rsa_2048.pem";
    if (access(sc.rsa_key_path, R_OK) != 0)
        sc.rsa_key_path = NULL;
    sc.populate_messages = 500;
    sc.populate_members = 300;
    if (tu_harness_start(&H, "test_chat", &sc))
        tap_bail("harness did not start");
    mtp_client_t *a = mk(A_PHONE), *b = mk(B_PHONE);
    test_join_create_forward(a);
    test_dialogs_contacts(a, b);
    test_reactions_search(a, b);
    mtp_client_free(b);
    mtp_client_free(a);
    tu_harness_stop(&H);
    return tap_done();
}
