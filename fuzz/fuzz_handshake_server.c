/*
 * libFuzzer target: the server role of the key exchange fed arbitrary client messages.
 *
 * The input is a list of records [op][len][payload], one per step (req_pq_multi,
 * req_DH_params, set_client_DH_params). op % 5 chooses what the server gets:
 *   0  the recorded request of the reference exchange (fuzz_handshake_common.h)
 *   1  the recorded request with XOR mutations (payload = (pos16, xor) triples)
 *   2  the payload as the body of a well-formed unencrypted packet
 *   3  the payload as a raw packet
 *   4  req_DH_params: the recorded p_q_inner_data mutated and RSA_PAD-encrypted again;
 *      set_client_DH_params: the encrypted data decrypted, mutated, re-hashed if op & 8
 *      and encrypted again; req_pq_multi: like 1 after the id
 * op >> 4 moves the clock by that many minutes (the cache / exchange expire after 10).
 * Invariants: no crash/leak/UB; a rejection leaves nothing in the output and poisons the
 * connection (every later packet is rejected too).
 */
#include "fuzz_handshake_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_ref_init();
    fz_rng_t ss, ps;
    mtp_rng_t srng, prng;
    fz_rng_init(&ss, &srng, FZ_SERVER_SEED);
    fz_rng_init(&ps, &prng, 3);
    mtp_hs_server_config_t cfg = { .rsa_keys = g_ref.keys, .n_rsa_keys = 1, .dc_id = 2,
                                   .rng = &srng };
    mtp_hs_server_t *s;
    if (mtp_hs_server_new(&cfg, &s))
        abort();
    mtp_buf_t out, pkt;
    mtp_buf_init(&out);
    mtp_buf_init(&pkt);
    mtp_arena_t *a = mtp_arena_new(0);
    fz_in_t in = { data, data + size };
    for (int step = 0; step < 4; step++) {
        const uint8_t *pl;
        size_t pn;
        uint8_t op = fz_next(&in, &pl, &pn);
        /* a fourth record replays one of the requests (cache / poisoning paths) */
        const mtp_buf_t *ref = &g_ref.req[step < 3 ? step : op % 3];
        mtp_buf_clear(&pkt);
        switch (op % 5) {
        case 0:
            mtp_buf_append(&pkt, ref->data, ref->len);
            break;
        case 1:
            mtp_buf_append(&pkt, ref->data, ref->len);
            fz_mutate(pkt.data, pkt.len, 0, pl, pn);
            break;
        case 2:
            fz_wrap(pl, pn, 0, &pkt);
            break;
        case 3:
            mtp_buf_append(&pkt, pl, pn);
            break;
        default:
            if (step == 1) {
                mtp_mt_req_DH_params_t *m = (mtp_mt_req_DH_params_t *)fz_decode(ref, a);
                if (!m || m->_.tl != &mtp_tlc_mt_req_DH_params)
                    abort();
                uint8_t inner[144], enc[256];
                size_t n = g_ref.inner.len;
                memcpy(inner, g_ref.inner.data, n);
                fz_mutate(inner, n, 0, pl, pn);
                if (mtp_rsa_pad_encrypt(g_ref.key, inner, n, &prng, enc))
                    abort();
                m->encrypted_data.ptr = enc;
                m->encrypted_data.len = sizeof enc;
                fz_repack(&m->_, ref, &pkt);
            } else if (step == 2) {
                mtp_mt_set_client_DH_params_t *m =
                    (mtp_mt_set_client_DH_params_t *)fz_decode(ref, a);
                if (!m || m->_.tl != &mtp_tlc_mt_set_client_DH_params)
                    abort();
                uint8_t blob[1024];
                size_t bn = 0;
                fz_mutate_encrypted(m->encrypted_data, op & 8, pl, pn, blob, &bn, a);
                m->encrypted_data.ptr = blob;
                m->encrypted_data.len = bn;
                fz_repack(&m->_, ref, &pkt);
            } else {
                mtp_buf_append(&pkt, ref->data, ref->len);
                fz_mutate(pkt.data, pkt.len, 24, pl, pn);
            }
        }
        mtp_usec_t now = FZ_T0 + (mtp_usec_t)(op >> 4) * 60 * MTP_USEC_PER_SEC;
        mtp_buf_clear(&out);
        mtp_hs_event_t ev;
        int rc = mtp_hs_server_feed(s, now, pkt.data, pkt.len, &out, &ev);
        if (rc) {
            if (ev != MTP_HS_EV_REJECT || out.len || mtp_hs_server_state(s) != MTP_HS_FAILED ||
                (mtp_hs_server_transport_error(s) != -404 && mtp_hs_server_transport_error(s) != -444))
                abort();
            /* poisoned: even the reference first message is refused now */
            if (mtp_hs_server_feed(s, now, g_ref.req[0].data, g_ref.req[0].len, &out, &ev) !=
                    MTP_ESTATE || ev != MTP_HS_EV_REJECT || out.len)
                abort();
            break;
        }
        if ((ev == MTP_HS_EV_SEND || ev == MTP_HS_EV_KEY) && !out.len)
            abort();
        if (ev == MTP_HS_EV_KEY) {
            mtp_hs_result_t r;
            if (mtp_hs_server_result(s, &r))
                abort();
            mtp_hs_result_wipe(&r);
        }
        mtp_arena_reset(a);
    }
    mtp_arena_free(a);
    mtp_buf_free(&out);
    mtp_buf_free(&pkt);
    mtp_hs_server_free(s);
    return 0;
}
