/*
 * libFuzzer target: the harness behind a valid envelope — session parsing (containers,
 * service messages, gzip), the API decoder in three layers and every method handler.
 *
 * The harness runs in-process (no thread): each input becomes one connection (a
 * socketpair handed to the accept callback) on which an authorized auth key sends the
 * input's messages, correctly encrypted. Input format, repeated until the input ends:
 *   byte  flags: bit 0 content-related (odd seq_no), bit 1 new session id,
 *                bits 2..3 wrap in invokeWithLayer(198 / 227 / 228 / none),
 *                bit 4 reuse the previous msg_id (duplicate), bit 5 msg_id in the past
 *   u16   body length (LE, rounded down to a multiple of 4; 0 = the rest)
 *   body
 * Everything the server answers is read and discarded. Invariants: no crash, no leak,
 * the connection count returns to zero after each input.
 *
 * Seeds: build with -DFUZZ_HARNESS_MAKE_SEEDS (a plain main) and run it with the corpus
 * directory as argument: fuzz/corpus/fuzz_harness/.
 */
#include "server/server_int.h"
#include "proto/transport_internal.h"

#include <mtproto/tl_schema.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static srv_t *srv;
static char *pem;
static mtp_auth_key_t key;
static int runs;
static int64_t last_msg_id;

static void setup(void)
{
    if (!pem) {
        mtp_rsa_key_t *k = NULL;
        size_t len = 0;
        if (mtp_rsa_generate(2048, &k))
            abort();
        mtp_rsa_private_pem(k, NULL, 0, &len);
        pem = malloc(len + 1);
        if (!pem || mtp_rsa_private_pem(k, pem, len + 1, &len))
            abort();
        mtp_rsa_free(k);
    }
    mtp_server_config_t cfg;
    mtp_server_config_init(&cfg);
    cfg.n_dcs = 2;
    cfg.has_seed = true;
    cfg.seed = 1;
    cfg.rsa_key_pem = pem;
    cfg.trace_path = getenv("FUZZ_HARNESS_TRACE");   /* debugging aid */
    static const mtp_server_password_t pw[] = { { "9996611111", "pw" } };
    cfg.passwords = pw;
    cfg.n_passwords = 1;
    if (mtp_server_new(&cfg, &srv))
        abort();
    uint8_t kb[256];
    for (int i = 0; i < 256; i++)
        kb[i] = (uint8_t)(i * 7 + 3);
    mtp_auth_key_init(&key, kb);
    srv_key_t *k = srv_key_add(srv, &key, 1, false, 0, 0x1234);
    srv_user_t *u = srv_user_by_phone(srv, "9996611234");
    srv_user_by_phone(srv, "9996621234");
    if (!k || !u)
        abort();
    k->user_id = u->id;
}

static void pump(int fd, int rounds)
{
    uint8_t buf[65536];
    for (int i = 0; i < rounds; i++) {
        mtp_loop_run_once(srv->loop, 0);
        while (read(fd, buf, sizeof buf) > 0)
            ;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 18)
        return 0;
    if (!srv || ++runs % 2000 == 0) {
        if (srv)
            mtp_server_free(srv);
        setup();
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
        return 0;
    struct sockaddr_in peer;
    memset(&peer, 0, sizeof peer);
    peer.sin_family = AF_INET;
    srv_accept(NULL, sv[0], (struct sockaddr *)&peer, sizeof peer, &srv->dcs[0]);

    mtp_transport_t t;
    mtp_transport_init_client_(&t, MTP_TRANSPORT_INTERMEDIATE, false, 0, NULL, NULL);
    mtp_buf_t out, pkt, body;
    mtp_buf_init(&out);
    mtp_buf_init(&pkt);
    mtp_buf_init(&body);
    static int64_t session = 1;
    int32_t seq = 0;
    size_t pos = 0;
    mtp_usec_t now = mtp_now_usec();
    while (pos + 3 <= size) {
        uint8_t fl = data[pos];
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        pos += 3;
        if (!len || len > size - pos)
            len = size - pos;
        len &= ~(size_t)3;
        const uint8_t *b = data + pos;
        pos += len;
        if (!len)
            break;
        if (fl & 2)
            session++;
        mtp_buf_clear(&body);
        int wrap = (fl >> 2) & 3;
        if (wrap < 3) {
            static const int layers[] = { 198, 227, 228 };
            uint8_t hdr[8];
            mtp_tl_write_int(mtp_tl_write_int(hdr, (int32_t)0xda9b0d0du), layers[wrap]);
            mtp_buf_append(&body, hdr, 8);
        }
        mtp_buf_append(&body, b, len);
        int64_t id;
        if ((fl & 16) && last_msg_id)
            id = last_msg_id;
        else if (fl & 32)
            id = mtp_msg_id_from_time(now - 400 * MTP_USEC_PER_SEC);
        else
            id = mtp_msg_id_from_time(now) > last_msg_id ? mtp_msg_id_from_time(now)
                                                         : last_msg_id + 4;
        id &= ~(int64_t)3;
        if (!(fl & 32))
            last_msg_id = id;
        int32_t s = (fl & 1) ? 2 * seq++ + 1 : 2 * seq;
        mtp_buf_clear(&pkt);
        if (mtp_envelope_encrypt(&key, MTP_ROLE_CLIENT, 0x1234, session, id, s, body.data,
                                 body.len, NULL, &pkt, NULL))
            continue;
        mtp_transport_frame(&t, pkt.data, pkt.len, 0, &out);
    }
    size_t off = 0;
    for (int i = 0; i < 10000 && off < out.len; i++) {
        ssize_t w = write(sv[1], out.data + off, out.len - off);
        if (w > 0)
            off += (size_t)w;
        pump(sv[1], 1);
    }
    pump(sv[1], 8);
    close(sv[1]);
    for (int i = 0; i < 100 && srv->conns; i++)
        mtp_loop_run_once(srv->loop, 0);
    if (srv->conns)
        __builtin_trap();   /* the connection must go away once the peer closed */
    mtp_transport_clear_(&t);
    mtp_buf_free(&out);
    mtp_buf_free(&pkt);
    mtp_buf_free(&body);
    return 0;
}

#ifdef FUZZ_HARNESS_MAKE_SEEDS
static void put(const char *dir, const char *name, const mtp_buf_t *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b->data, 1, b->len, f);
        fclose(f);
    }
}

static void msg(mtp_buf_t *b, uint8_t flags, const mtp_tl_object_t *o)
{
    mtp_buf_t t;
    mtp_buf_init(&t);
    mtp_tl_encode(o, &t);
    uint8_t h[3] = { flags, (uint8_t)t.len, (uint8_t)(t.len >> 8) };
    mtp_buf_append(b, h, 3);
    mtp_buf_append(b, t.data, t.len);
    mtp_buf_free(&t);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_buf_t b;
    mtp_buf_init(&b);
    msg(&b, 1 | 8, &MTP_NEW(a, help_getConfig)->_);
    put(dir, "config", &b);
    mtp_buf_clear(&b);
    mtp_users_getUsers_t *gu = MTP_NEW(a, users_getUsers);
    gu->id.n = 1;
    gu->id.v = mtp_arena_alloc(a, sizeof(void *));
    gu->id.v[0] = &MTP_NEW(a, inputUserSelf)->_;
    msg(&b, 1, &gu->_);
    msg(&b, 1 | 0, &gu->_);
    put(dir, "getusers-198", &b);
    mtp_buf_clear(&b);
    mtp_messages_sendMessage_t *sm = MTP_NEW(a, messages_sendMessage);
    sm->peer = &MTP_NEW(a, inputPeerSelf)->_;
    sm->message = (mtp_bytes_t){ (const uint8_t *)"hello", 5 };
    sm->random_id = 1;
    msg(&b, 1 | 12, &sm->_);
    mtp_messages_getHistory_t *gh = MTP_NEW(a, messages_getHistory);
    gh->peer = &MTP_NEW(a, inputPeerSelf)->_;
    gh->limit = 10;
    msg(&b, 1 | 12, &gh->_);
    put(dir, "send-history", &b);
    mtp_buf_clear(&b);
    mtp_upload_saveFilePart_t *sp = MTP_NEW(a, upload_saveFilePart);
    uint8_t part[1024] = { 0 };
    sp->file_id = 9;
    sp->bytes = (mtp_bytes_t){ part, sizeof part };
    msg(&b, 1 | 12, &sp->_);
    mtp_messages_sendMedia_t *md = MTP_NEW(a, messages_sendMedia);
    mtp_inputMediaUploadedDocument_t *ud = MTP_NEW(a, inputMediaUploadedDocument);
    mtp_inputFile_t *inf = MTP_NEW(a, inputFile);
    inf->id = 9;
    inf->parts = 1;
    inf->name = (mtp_bytes_t){ (const uint8_t *)"f", 1 };
    ud->file = &inf->_;
    md->peer = &MTP_NEW(a, inputPeerSelf)->_;
    md->media = &ud->_;
    md->random_id = 2;
    msg(&b, 1 | 12, &md->_);
    put(dir, "upload-media", &b);
    mtp_buf_clear(&b);
    mtp_auth_sendCode_t *sc = MTP_NEW(a, auth_sendCode);
    sc->phone_number = (mtp_bytes_t){ (const uint8_t *)"9996611111", 10 };
    sc->settings = &MTP_NEW(a, codeSettings)->_;
    msg(&b, 1 | 3, &sc->_);
    msg(&b, 1 | 12, &MTP_NEW(a, account_getPassword)->_);
    put(dir, "login-2fa", &b);
    mtp_buf_free(&b);
    mtp_arena_free(a);
    return 0;
}
#endif
