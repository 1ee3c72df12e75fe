/*
 * libmtproto — salts (PROTOCOL.md §3.6, §5.5): the client's future salts (stored from
 * future_salts, the one in use picked by server time, refreshed before they run out) and
 * the server's salt table (rotated, answered to get_future_salts, checked on every packet).
 */
#include "session_impl.h"

static int salt_cmp(const void *a, const void *b)
{
    const mtp_future_salt_t *x = a, *y = b;
    if (x->valid_since != y->valid_since)
        return x->valid_since < y->valid_since ? -1 : 1;
    return x->valid_until < y->valid_until ? -1 : x->valid_until > y->valid_until;
}

/* The newest salt of the table valid at server time t, or the last learned one (client:
 * future salts; server: its salt table). */
int64_t ses_salt_at(const mtp_session_t *s, int32_t t)
{
    int64_t best = s->salt;
    int32_t best_since = INT32_MIN;
    bool found = false;
    for (uint32_t i = 0; i < s->n_salts; i++) {
        const mtp_future_salt_t *f = &s->salts[i];
        if (f->valid_since <= t && t < f->valid_until && (!found || f->valid_since >= best_since)) {
            best = f->salt;
            best_since = f->valid_since;
            found = true;
        }
    }
    return best;
}

int32_t ses_salts_max_until(const mtp_session_t *s)
{
    int32_t max_until = INT32_MIN;
    for (uint32_t i = 0; i < s->n_salts; i++)
        if (s->salts[i].valid_until > max_until)
            max_until = s->salts[i].valid_until;
    return max_until;
}

void ses_client_prune_salts(mtp_session_t *s, int32_t t)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_salts; i++)
        if (s->salts[i].valid_until > t)
            s->salts[k++] = s->salts[i];
    s->n_salts = k;
}

void ses_client_store_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n, int32_t t)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].valid_until <= v[i].valid_since || v[i].valid_until <= t)
            continue;
        bool dup = false;
        for (uint32_t j = 0; j < s->n_salts; j++)
            if (s->salts[j].salt == v[i].salt && s->salts[j].valid_since == v[i].valid_since) {
                s->salts[j].valid_until = v[i].valid_until;
                dup = true;
            }
        if (dup)
            continue;
        if (s->n_salts == MAX_SALTS) {
            /* replace the one that starts last if the new one starts earlier */
            qsort(s->salts, s->n_salts, sizeof s->salts[0], salt_cmp);
            if (v[i].valid_since >= s->salts[MAX_SALTS - 1].valid_since)
                continue;
            s->n_salts--;
        }
        s->salts[s->n_salts++] = v[i];
    }
    qsort(s->salts, s->n_salts, sizeof s->salts[0], salt_cmp);
}

/* Server: the salt table. */
int ses_server_salts_ensure(mtp_session_t *s, int32_t t, uint32_t need)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_salts; i++)
        if ((int64_t)s->salts[i].valid_until + s->cfg.salt_grace > t)
            s->salts[k++] = s->salts[i];
    s->n_salts = k;
    if (!s->n_salts) {
        if (!need)
            return 0;
        s->salts[0].valid_since = t;
        s->salts[0].valid_until = (int32_t)((int64_t)t + s->cfg.salt_period > INT32_MAX
                                                ? INT32_MAX : t + s->cfg.salt_period);
        s->salts[0].salt = s->salt;
        s->n_salts = 1;
    }
    for (;;) {
        uint32_t future = 0;
        for (uint32_t i = 0; i < s->n_salts; i++)
            if (s->salts[i].valid_until > t)
                future++;
        if (future >= need || s->n_salts >= MAX_SALTS)
            break;
        const mtp_future_salt_t *last = &s->salts[s->n_salts - 1];
        mtp_future_salt_t f;
        f.valid_since = last->valid_until > t ? last->valid_until : t;
        if ((int64_t)f.valid_since + s->cfg.salt_period > INT32_MAX)
            break;
        f.valid_until = f.valid_since + s->cfg.salt_period;
        int rc = ses_rand64(s, &f.salt);
        if (rc)
            return rc;
        s->salts[s->n_salts++] = f;
    }
    return 0;
}

bool ses_server_salt_ok(const mtp_session_t *s, int64_t salt, int32_t t)
{
    if (!s->n_salts)
        return salt == s->salt;
    for (uint32_t i = 0; i < s->n_salts; i++) {
        const mtp_future_salt_t *f = &s->salts[i];
        if (f->salt == salt && (int64_t)f->valid_since - 60 <= t &&
            t < (int64_t)f->valid_until + s->cfg.salt_grace)
            return true;
    }
    return false;
}

int64_t mtp_session_salt(const mtp_session_t *s, mtp_usec_t now)
{
    int32_t t = secs(server_time(s, now));
    return ses_salt_at(s, t);
}

void mtp_session_set_salt(mtp_session_t *s, int64_t salt)
{
    s->salt = salt;
}

int mtp_session_add_future_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n)
{
    if (!s || (!v && n) || n > MAX_SALTS)
        return MTP_EINVAL;
    if (is_server(s))
        return mtp_session_set_server_salts(s, v, n);
    ses_client_store_salts(s, v, n, secs(server_time(s, s->last_now)));
    return 0;
}

int mtp_session_set_server_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n)
{
    if (!s || (!v && n) || n > MAX_SALTS || !is_server(s))
        return MTP_EINVAL;
    memcpy(s->salts, v, n * sizeof *v);
    s->n_salts = (uint32_t)n;
    qsort(s->salts, s->n_salts, sizeof s->salts[0], salt_cmp);
    return 0;
}

size_t mtp_session_salts(const mtp_session_t *s, mtp_future_salt_t *out, size_t max)
{
    size_t n = s->n_salts < max ? s->n_salts : max;
    if (out && n)
        memcpy(out, s->salts, n * sizeof *out);
    return s->n_salts;
}

/* Client: should we ask for future salts now? */
bool ses_salts_needed(const mtp_session_t *s, mtp_usec_t now)
{
    if (is_server(s) || !s->cfg.future_salts || s->closed)
        return false;
    if (s->salts_req_at && now < add_sat(s->salts_req_at, SALTS_RETRY))
        return false;
    if (!s->n_salts)
        return true;
    int32_t t = secs(server_time(s, now));
    return (int64_t)ses_salts_max_until(s) - t < s->cfg.salt_refresh_margin / SEC;
}

void ses_queue_salts_req(mtp_session_t *s, mtp_usec_t now)
{
    mtp_mt_get_future_salts_t req = { { &mtp_tlc_mt_get_future_salts },
                                      (int32_t)s->cfg.future_salts };
    out_msg_t *m = ses_enqueue_obj(s, &req, true, false);
    if (m) {
        m->track = TRACK_SALTS;
        s->salts_req_at = now;
    }
}

