/*
 * libFuzzer target: the client role of the key exchange fed arbitrary server answers.
 *
 * The input is a list of records [op][len][payload], one per step (resPQ,
 * server_DH_params, dh_gen). op % 5 chooses what the client gets at that step:
 *   0  the recorded answer of the reference exchange (fuzz_handshake_common.h)
 *   1  the recorded answer with XOR mutations (payload = (pos16, xor) triples)
 *   2  the payload as the body of a well-formed unencrypted packet
 *   3  the payload as a raw packet
 *   4  server_DH_params: the encrypted answer decrypted, mutated, re-hashed if op & 8, and
 *      encrypted again (reaches the DH parameter checks); other steps: like 1 after the id
 * op >> 4 shifts the clock by that many seconds. Missing records mean op 0.
 * Invariants checked: no crash/leak/UB; on failure the state is FAILED, nothing was
 * appended to the output and the result is unavailable.
 */
#include "fuzz_handshake_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_ref_init();
    fz_rng_t cs;
    mtp_rng_t crng;
    fz_rng_init(&cs, &crng, FZ_CLIENT_SEED);
    mtp_hs_client_config_t cfg = { .rsa_keys = g_ref.keys, .n_rsa_keys = 1, .dc_id = 2,
                                   .rng = &crng };
    mtp_hs_client_t *c;
    if (mtp_hs_client_new(&cfg, &c))
        abort();
    mtp_buf_t out, pkt;
    mtp_buf_init(&out);
    mtp_buf_init(&pkt);
    mtp_arena_t *a = mtp_arena_new(0);
    if (mtp_hs_client_start(c, FZ_T0, &out))
        abort();
    fz_in_t in = { data, data + size };
    for (int step = 0; step < 3; step++) {
        const uint8_t *pl;
        size_t pn;
        uint8_t op = fz_next(&in, &pl, &pn);
        const mtp_buf_t *ref = &g_ref.ans[step];
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
            fz_wrap(pl, pn, 1, &pkt);
            break;
        case 3:
            mtp_buf_append(&pkt, pl, pn);
            break;
        default:
            if (step == 1) {
                mtp_mt_server_DH_params_ok_t *m = (mtp_mt_server_DH_params_ok_t *)fz_decode(ref, a);
                if (!m || m->_.tl != &mtp_tlc_mt_server_DH_params_ok)
                    abort();
                uint8_t blob[1024];
                size_t bn = 0;
                fz_mutate_encrypted(m->encrypted_answer, op & 8, pl, pn, blob, &bn, a);
                m->encrypted_answer.ptr = blob;
                m->encrypted_answer.len = bn;
                fz_repack(&m->_, ref, &pkt);
            } else {
                mtp_buf_append(&pkt, ref->data, ref->len);
                fz_mutate(pkt.data, pkt.len, 24, pl, pn);
            }
        }
        mtp_usec_t now = FZ_T0 + (mtp_usec_t)(op >> 4) * MTP_USEC_PER_SEC;
        size_t before = out.len;
        mtp_buf_clear(&out);
        before = out.len;
        int rc = mtp_hs_client_feed(c, now, pkt.data, pkt.len, &out);
        mtp_hs_state_t st = mtp_hs_client_state(c);
        mtp_hs_result_t r;
        if (rc) {
            if (st != MTP_HS_FAILED || out.len != before || mtp_hs_client_error(c) != rc ||
                mtp_hs_client_result(c, &r) != MTP_ESTATE)
                abort();
            break;
        }
        if (st == MTP_HS_DONE) {
            if (mtp_hs_client_result(c, &r))
                abort();
            mtp_hs_result_wipe(&r);
            break;
        }
        if (out.len == before)
            abort();   /* accepted but nothing to send */
        if (op & 0x8) {
            mtp_buf_clear(&out);
            if (mtp_hs_client_resend(c, now + 1, &out) || mtp_hs_client_deadline(c) == MTP_TIME_NEVER)
                abort();
        }
        mtp_arena_reset(a);
    }
    mtp_arena_free(a);
    mtp_buf_free(&out);
    mtp_buf_free(&pkt);
    mtp_hs_client_free(c);
    return 0;
}
