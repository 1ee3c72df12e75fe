/* Canonical JSON: hand-written objects of every kind, double formatting, strings, errors,
 * the text printer and layer conversion. */
#include <mtproto/tl.h>

#include <math.h>
#include <stdlib.h>

#include "testutil.h"

static const mtp_tl_layer_t *L;
static mtp_arena_t *A;

/* ---- generic helpers over descriptors ---- */

static const mtp_tl_comb_t *comb(const char *name)
{
    const mtp_tl_comb_t *c = mtp_tl_find_name(L, name, strlen(name));
    if (!c)
        tap_bail("no combinator %s", name);
    return c;
}

static const mtp_tl_param_t *param(const mtp_tl_comb_t *c, const char *name)
{
    for (uint16_t i = 0; i < c->nparams; i++)
        if (!strcmp(c->params[i].name, name))
            return &c->params[i];
    tap_bail("no field %s in %s", name, c->name);
}

static void *fld(mtp_tl_object_t *o, const char *name)
{
    return (uint8_t *)o + param(o->tl, name)->offset;
}

static void set_has(mtp_tl_object_t *o, const char *name)
{
    const mtp_tl_param_t *p = param(o->tl, name);
    if (p->has_offset != MTP_TL_NO_OFFSET)
        *(bool *)((uint8_t *)o + p->has_offset) = true;
}

static char *to_json(const mtp_tl_object_t *o)
{
    static char out[1 << 20];
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_to_json(o, &b);
    if (rc) {
        snprintf(out, sizeof out, "<to_json failed: %s>", mtp_strerror(rc));
    } else {
        size_t n = b.len < sizeof out - 1 ? b.len : sizeof out - 1;
        memcpy(out, b.data, n);
        out[n] = 0;
    }
    mtp_buf_free(&b);
    return out;
}

static int str_eq(const char *got, const char *want, const char *what)
{
    int ok = tap_ok(!strcmp(got, want), "%s", what);
    if (!ok) {
        tap_diag("got:  %s", got);
        tap_diag("want: %s", want);
    }
    return ok;
}

/* JSON -> object -> JSON must give `canon`; then encode -> decode -> JSON and re-encode. */
static void roundtrip(const char *json, const char *canon, const char *what)
{
    char err[256];
    mtp_tl_object_t *o;
    if (!canon)
        canon = json;
    int rc = mtp_tl_from_json(L, json, strlen(json), A, &o, err, sizeof err);
    if (!tap_ok(rc == 0, "%s: from_json", what)) {
        tap_diag("error: %s", err);
        return;
    }
    str_eq(to_json(o), canon, what);
    mtp_buf_t b1, b2;
    mtp_buf_init(&b1);
    mtp_buf_init(&b2);
    rc = mtp_tl_encode(o, &b1);
    mtp_tl_object_t *d = NULL;
    if (!rc)
        rc = mtp_tl_decode(L, b1.data, b1.len, A, &d);
    if (tap_ok(rc == 0, "%s: encode and decode (%s)", what, mtp_strerror(rc))) {
        str_eq(to_json(d), canon, "  ... decoded JSON is the same");
        rc = mtp_tl_encode(d, &b2);
        OK(rc == 0 && b1.len == b2.len && !memcmp(b1.data, b2.data, b1.len),
           "  ... re-encoding is byte-identical");
    }
    mtp_buf_free(&b1);
    mtp_buf_free(&b2);
}

static void json_error(const char *json, const char *want_sub, const char *what)
{
    char err[256];
    mtp_tl_object_t *o = (mtp_tl_object_t *)1;
    int rc = mtp_tl_from_json(L, json, strlen(json), A, &o, err, sizeof err);
    int ok = rc == MTP_EJSON && o == NULL && strstr(err, want_sub) != NULL;
    if (!tap_ok(ok, "error: %s", what))
        tap_diag("rc %d, err \"%s\", want \"%s\"", rc, err, want_sub);
}

/* ---- tests ---- */

static void test_simple_kinds(void)
{
    roundtrip("{\"_\":\"peerUser\",\"user_id\":\"123\"}", NULL, "long as decimal string");
    roundtrip("{\"_\":\"peerUser\",\"user_id\":123}", "{\"_\":\"peerUser\",\"user_id\":\"123\"}",
              "long as number is accepted");
    roundtrip("{\"_\":\"peerUser\",\"user_id\":\"-9223372036854775808\"}", NULL, "INT64_MIN");
    roundtrip("{\"_\":\"peerUser\",\"user_id\":\"9223372036854775807\"}", NULL, "INT64_MAX");
    roundtrip("{\"_\":\"msgs_ack\",\"msg_ids\":[\"0\",\"-1\",\"9223372036854775807\","
              "\"-9223372036854775808\"]}", NULL, "Vector<long>");
    roundtrip("{\"_\":\"msgs_ack\",\"msg_ids\":[]}", NULL, "empty vector");
    roundtrip(" { \"msg_ids\" : [ 1 , 2 ] , \"_\" : \"msgs_ack\" } ",
              "{\"_\":\"msgs_ack\",\"msg_ids\":[\"1\",\"2\"]}",
              "whitespace and \"_\" last are accepted");
    roundtrip("{\"_\":\"rpc_error\",\"error_code\":-2147483648,\"error_message\":\"FLOOD_WAIT_5\"}",
              NULL, "int min");
    roundtrip("{\"_\":\"rpc_error\",\"error_code\":2147483647,\"error_message\":\"\"}", NULL,
              "int max, empty string");
    roundtrip("{\"_\":\"resPQ\",\"nonce\":\"000102030405060708090a0b0c0d0e0f\","
              "\"server_nonce\":\"F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF\",\"pq\":\"17ed48941a08f981\","
              "\"server_public_key_fingerprints\":[\"-4344800451088585951\"]}",
              "{\"_\":\"resPQ\",\"nonce\":\"000102030405060708090a0b0c0d0e0f\","
              "\"server_nonce\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"pq\":\"17ed48941a08f981\","
              "\"server_public_key_fingerprints\":[\"-4344800451088585951\"]}",
              "int128 hex (upper case accepted)");
}

static void test_service(void)
{
    roundtrip("{\"_\":\"p_q_inner_data_dc\",\"pq\":\"17ed48941a08f981\",\"p\":\"494c553b\",\"q\":\"53911073\","
              "\"nonce\":\"00000000000000000000000000000001\","
              "\"server_nonce\":\"ffffffffffffffffffffffffffffffff\","
              "\"new_nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
              "\"dc\":-2}", NULL, "int256");
    roundtrip("{\"_\":\"future_salts\",\"req_msg_id\":\"1\",\"now\":2,\"salts\":["
              "{\"_\":\"future_salt\",\"valid_since\":1,\"valid_until\":2,\"salt\":\"3\"},"
              "{\"_\":\"future_salt\",\"valid_since\":4,\"valid_until\":5,\"salt\":\"-6\"}]}",
              NULL, "bare vector of bare constructors");
    roundtrip("{\"_\":\"future_salts\",\"req_msg_id\":\"1\",\"now\":2,\"salts\":["
              "{\"valid_since\":1,\"valid_until\":2,\"salt\":\"3\"}]}",
              "{\"_\":\"future_salts\",\"req_msg_id\":\"1\",\"now\":2,\"salts\":["
              "{\"_\":\"future_salt\",\"valid_since\":1,\"valid_until\":2,\"salt\":\"3\"}]}",
              "a bare item may omit \"_\"");
    roundtrip("{\"_\":\"msg_container\",\"messages\":["
              "{\"_\":\"message\",\"msg_id\":\"6800000000000000004\",\"seqno\":1,\"bytes\":16,"
              "\"body\":{\"_\":\"pong\",\"msg_id\":\"1\",\"ping_id\":\"2\"}},"
              "{\"_\":\"message\",\"msg_id\":\"6800000000000000008\",\"seqno\":2,\"bytes\":20,"
              "\"body\":{\"_\":\"msgs_ack\",\"msg_ids\":[\"5\"]}}]}",
              NULL, "msg_container with Object bodies");
    roundtrip("{\"_\":\"rpc_result\",\"req_msg_id\":\"77\",\"result\":{\"_\":\"rpc_error\","
              "\"error_code\":420,\"error_message\":\"FLOOD_WAIT_3\"}}", NULL, "rpc_result");
    roundtrip("{\"_\":\"invokeWithLayer\",\"layer\":228,\"query\":{\"_\":\"initConnection\","
              "\"flags\":0,\"api_id\":1,\"device_model\":\"d\",\"system_version\":\"s\","
              "\"app_version\":\"a\",\"system_lang_code\":\"en\",\"lang_pack\":\"\","
              "\"lang_code\":\"en\",\"query\":{\"_\":\"help.getConfig\"}}}",
              NULL, "!X queries nest");
}

static void test_flags(void)
{
    roundtrip("{\"_\":\"user\",\"flags\":1073759243,\"self\":true,\"bot\":true,\"flags2\":2049,"
              "\"bot_business\":true,\"id\":\"42\",\"access_hash\":\"-5\",\"first_name\":\"A\","
              "\"username\":\"u\",\"bot_info_version\":3,"
              "\"emoji_status\":{\"_\":\"emojiStatus\",\"flags\":1,\"document_id\":\"9\",\"until\":10},"
              "\"usernames\":[{\"_\":\"username\",\"flags\":3,\"editable\":true,\"active\":true,"
              "\"username\":\"x\"}]}",
              NULL, "user: flags and flags2, true fields, optional vector");
    roundtrip("{\"_\":\"user\",\"id\":\"42\",\"first_name\":\"A\",\"verified\":true}",
              "{\"_\":\"user\",\"flags\":131074,\"verified\":true,\"flags2\":0,\"id\":\"42\","
              "\"first_name\":\"A\"}",
              "omitted flags are computed; fields may come in any order");
    roundtrip("{\"_\":\"user\",\"flags\":2147483648,\"flags2\":2147483648,\"id\":\"1\"}", NULL,
              "bits no field uses are kept");
    roundtrip("{\"_\":\"user\",\"flags\":0,\"self\":false,\"flags2\":0,\"id\":\"1\"}",
              "{\"_\":\"user\",\"flags\":0,\"flags2\":0,\"id\":\"1\"}",
              "true field given as false is absent");
    roundtrip("{\"_\":\"user\",\"flags\":0,\"flags2\":0,\"id\":\"1\",\"photo\":null}",
              "{\"_\":\"user\",\"flags\":0,\"flags2\":0,\"id\":\"1\"}",
              "optional field given as null is absent");
    roundtrip("{\"_\":\"user\",\"flags\":262144,\"restricted\":true,\"flags2\":0,\"id\":\"1\","
              "\"restriction_reason\":[]}", NULL,
              "optional empty vector present (shares its bit with a true field)");
    roundtrip("{\"_\":\"auth.authorization\",\"flags\":2,\"setup_password_required\":true,"
              "\"otherwise_relogin_days\":7,\"user\":{\"_\":\"userEmpty\",\"id\":\"5\"}}", NULL,
              "shared bit: true + int");
    {
        const char *j = "{\"_\":\"auth.authorization\",\"flags\":2,"
                        "\"otherwise_relogin_days\":7,\"user\":{\"_\":\"userEmpty\",\"id\":\"5\"}}";
        char err[256];
        mtp_tl_object_t *o, *d;
        mtp_buf_t b;
        mtp_buf_init(&b);
        int rc = mtp_tl_from_json(L, j, strlen(j), A, &o, err, sizeof err);
        OK(rc == 0 && !strcmp(to_json(o), j), "shared bit: the int alone sets the bit");
        rc = rc ? rc : mtp_tl_encode(o, &b);
        rc = rc ? rc : mtp_tl_decode(L, b.data, b.len, A, &d);
        str_eq(rc ? "<failed>" : to_json(d),
               "{\"_\":\"auth.authorization\",\"flags\":2,\"setup_password_required\":true,"
               "\"otherwise_relogin_days\":7,\"user\":{\"_\":\"userEmpty\",\"id\":\"5\"}}",
               "  ... and the true field sharing it decodes as set");
        mtp_buf_free(&b);
    }
    roundtrip("{\"_\":\"message\",\"flags\":1026,\"out\":true,\"flags2\":0,\"id\":5,"
              "\"peer_id\":{\"_\":\"peerUser\",\"user_id\":\"7\"},\"date\":1700000000,"
              "\"message\":\"hi\",\"views\":10,\"forwards\":0}", NULL,
              "message: views/forwards share flags.10");
    roundtrip("{\"_\":\"inputGeoPoint\",\"flags\":1,\"lat\":1.5,\"long\":-0.25,"
              "\"accuracy_radius\":-1}", NULL, "inputGeoPoint with optional int");
    roundtrip("{\"_\":\"config\",\"flags\":32772,\"force_try_ipv6\":false,\"date\":1,\"expires\":2,"
              "\"test_mode\":true,\"this_dc\":2,\"dc_options\":[{\"_\":\"dcOption\",\"flags\":1025,"
              "\"ipv6\":true,\"id\":2,\"ip_address\":\"::1\",\"port\":443,\"secret\":\"00ff\"}],"
              "\"dc_txt_domain_name\":\"x\",\"chat_size_max\":1,\"megagroup_size_max\":2,"
              "\"forwarded_count_max\":3,\"online_update_period_ms\":4,"
              "\"offline_blur_timeout_ms\":5,\"offline_idle_timeout_ms\":6,"
              "\"online_cloud_timeout_ms\":7,\"notify_cloud_delay_ms\":8,"
              "\"notify_default_delay_ms\":9,\"push_chat_period_ms\":10,\"push_chat_limit\":11,"
              "\"edit_time_limit\":12,\"revoke_time_limit\":13,\"revoke_pm_time_limit\":14,"
              "\"rating_e_decay\":15,\"stickers_recent_limit\":16,"
              "\"channels_read_media_period\":17,\"call_receive_timeout_ms\":18,"
              "\"call_ring_timeout_ms\":19,\"call_connect_timeout_ms\":20,"
              "\"call_packet_timeout_ms\":21,\"me_url_prefix\":\"t.me\",\"caption_length_max\":22,"
              "\"message_length_max\":23,\"webfile_dc_id\":24,\"suggested_lang_code\":\"en\","
              "\"lang_pack_version\":25,\"base_lang_pack_version\":26,"
              "\"reactions_default\":{\"_\":\"reactionEmoji\",\"emoticon\":\"\\u2764\"}}",
              "{\"_\":\"config\",\"flags\":32772,\"date\":1,\"expires\":2,"
              "\"test_mode\":true,\"this_dc\":2,\"dc_options\":[{\"_\":\"dcOption\",\"flags\":1025,"
              "\"ipv6\":true,\"id\":2,\"ip_address\":\"::1\",\"port\":443,\"secret\":\"00ff\"}],"
              "\"dc_txt_domain_name\":\"x\",\"chat_size_max\":1,\"megagroup_size_max\":2,"
              "\"forwarded_count_max\":3,\"online_update_period_ms\":4,"
              "\"offline_blur_timeout_ms\":5,\"offline_idle_timeout_ms\":6,"
              "\"online_cloud_timeout_ms\":7,\"notify_cloud_delay_ms\":8,"
              "\"notify_default_delay_ms\":9,\"push_chat_period_ms\":10,\"push_chat_limit\":11,"
              "\"edit_time_limit\":12,\"revoke_time_limit\":13,\"revoke_pm_time_limit\":14,"
              "\"rating_e_decay\":15,\"stickers_recent_limit\":16,"
              "\"channels_read_media_period\":17,\"call_receive_timeout_ms\":18,"
              "\"call_ring_timeout_ms\":19,\"call_connect_timeout_ms\":20,"
              "\"call_packet_timeout_ms\":21,\"me_url_prefix\":\"t.me\",\"caption_length_max\":22,"
              "\"message_length_max\":23,\"webfile_dc_id\":24,\"suggested_lang_code\":\"en\","
              "\"lang_pack_version\":25,\"base_lang_pack_version\":26,"
              "\"reactions_default\":{\"_\":\"reactionEmoji\",\"emoticon\":\"\xe2\x9d\xa4\"}}",
              "config: Bool, three fields on flags.2, nested vector of objects");
}

static void test_doubles(void)
{
    static const struct { const char *in, *out; } cases[] = {
        {"1.5", "1.5"}, {"-0.25", "-0.25"}, {"1e-7", "1e-7"}, {"0.0000001", "1e-7"},
        {"0.000001", "0.000001"}, {"123456.789", "123456.789"}, {"1e21", "1e+21"},
        {"1E+21", "1e+21"}, {"1e20", "100000000000000000000"},
        {"3.141592653589793", "3.141592653589793"}, {"0", "0"}, {"-0", "0"}, {"-0.0", "0"},
        {"0.1", "0.1"}, {"0.30000000000000004", "0.30000000000000004"}, {"100", "100"},
        {"5e-324", "5e-324"}, {"1.7976931348623157e308", "1.7976931348623157e+308"},
        {"2.2250738585072014e-308", "2.2250738585072014e-308"}, {"-1e-7", "-1e-7"},
        {"123e-20", "1.23e-18"}, {"9007199254740993", "9007199254740992"},
        {"1.0", "1"}, {"4.35", "4.35"}, {"12345678901234567890123", "1.2345678901234568e+22"},
        {"1e400", "null"}, {"-1e400", "null"}, {"null", "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char in[256], want[256];
        snprintf(in, sizeof in, "{\"_\":\"inputGeoPoint\",\"flags\":0,\"lat\":%s,\"long\":0}",
                 cases[i].in);
        snprintf(want, sizeof want,
                 "{\"_\":\"inputGeoPoint\",\"flags\":0,\"lat\":%s,\"long\":0}", cases[i].out);
        char err[256];
        mtp_tl_object_t *o;
        int rc = mtp_tl_from_json(L, in, strlen(in), A, &o, err, sizeof err);
        if (!tap_ok(rc == 0, "double %s parses", cases[i].in)) {
            tap_diag("%s", err);
            continue;
        }
        char what[128];
        snprintf(what, sizeof what, "double %s -> %s", cases[i].in, cases[i].out);
        str_eq(to_json(o), want, what);
    }
    /* NaN and infinities from the wire */
    mtp_tl_object_t *o = mtp_tl_new(A, comb("inputGeoPoint"));
    *(double *)fld(o, "lat") = NAN;
    *(double *)fld(o, "long") = -INFINITY;
    str_eq(to_json(o), "{\"_\":\"inputGeoPoint\",\"flags\":0,\"lat\":null,\"long\":null}",
           "NaN and -Infinity -> null");
    /* JSON vectors of doubles through value_from_json / value_to_json */
    const mtp_tl_param_t *lat = param(comb("inputGeoPoint"), "lat");
    double d = 0;
    char err[128];
    OK(mtp_tl_value_from_json(L, lat->type, " 2.5e-3 ", 8, A, &d, err, sizeof err) == 0 &&
       d == 0.0025, "value_from_json(double)");
    mtp_buf_t b;
    mtp_buf_init(&b);
    OK(mtp_tl_value_to_json(lat->type, &d, &b) == 0 && b.len == 6 && !memcmp(b.data, "0.0025", 6),
       "value_to_json(double)");
    mtp_buf_free(&b);
}

static void test_strings(void)
{
    /* escapes: control chars, quote, backslash; '/' and DEL raw; U+2028 raw */
    roundtrip("{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":"
              "\"\\u0000\\u0001\\b\\f\\n\\r\\t\\u001f \\\"\\\\\\/\x7f\\u2028\\u00e9\\ud83d\\ude00\"}",
              "{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":"
              "\"\\u0000\\u0001\\b\\f\\n\\r\\t\\u001f \\\"\\\\/\x7f\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80\"}",
              "string escapes");
    roundtrip("{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"\\ud83d x \\ude00\"}",
              "{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"\xef\xbf\xbd x \xef\xbf\xbd\"}",
              "lone surrogates become U+FFFD");
    /* long strings: 253, 254 (0xfe header), 70000 */
    size_t lens[] = {253, 254, 255, 300, 70000};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        size_t n = lens[k];
        char *j = malloc(n + 128);
        int h = snprintf(j, n + 128, "{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"");
        for (size_t i = 0; i < n; i++)
            j[h + (int)i] = (char)('a' + i % 26);
        strcpy(j + h + n, "\"}");
        char what[64];
        snprintf(what, sizeof what, "string of %zu bytes", n);
        roundtrip(j, NULL, what);
        free(j);
    }
    /* invalid UTF-8 from the wire: one U+FFFD per maximal invalid subpart (WHATWG) */
    static const struct { const char *in; size_t n; const char *out; } bad[] = {
        {"\x80", 1, "\xef\xbf\xbd"},
        {"a\xff" "b", 3, "a\xef\xbf\xbd" "b"},
        {"\xc3", 1, "\xef\xbf\xbd"},
        {"\xc3(", 2, "\xef\xbf\xbd("},
        {"\xe2\x82", 2, "\xef\xbf\xbd"},
        {"\xe2\x82(", 3, "\xef\xbf\xbd("},
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
        {"\xf0\x9f\x98\x80\xf0", 5, "\xf0\x9f\x98\x80\xef\xbf\xbd"},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},             /* overlong */
        {"\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf5", 1, "\xef\xbf\xbd"},
        {"\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41", 9,
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x41"},
    };
    const mtp_tl_comb_t *ce = comb("rpc_error");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mtp_tl_object_t *o = mtp_tl_new(A, ce);
        mtp_bytes_t *s = fld(o, "error_message");
        s->ptr = (const uint8_t *)bad[i].in;
        s->len = bad[i].n;
        char want[128];
        snprintf(want, sizeof want, "{\"_\":\"rpc_error\",\"error_code\":0,\"error_message\":\"%s\"}",
                 bad[i].out);
        char what[64];
        snprintf(what, sizeof what, "invalid UTF-8 case %zu -> U+FFFD", i);
        str_eq(to_json(o), want, what);
    }
    /* bytes: lowercase hex, empty */
    const mtp_tl_comb_t *cg = comb("gzip_packed");
    mtp_tl_object_t *o = mtp_tl_new(A, cg);
    str_eq(to_json(o), "{\"_\":\"gzip_packed\",\"packed_data\":\"\"}", "empty bytes (NULL slice)");
    mtp_bytes_t *pd = fld(o, "packed_data");
    pd->ptr = (const uint8_t *)"\x00\xab\xff";
    pd->len = 3;
    str_eq(to_json(o), "{\"_\":\"gzip_packed\",\"packed_data\":\"00abff\"}", "bytes hex");
}

static void test_structs(void)
{
    /* Objects built in C: has_ flags, NULL required objects. */
    mtp_tl_object_t *u = mtp_tl_new(A, comb("user"));
    *(int64_t *)fld(u, "id") = 1;
    *(bool *)fld(u, "premium") = true;
    ((mtp_bytes_t *)fld(u, "phone"))->ptr = (const uint8_t *)"123";
    ((mtp_bytes_t *)fld(u, "phone"))->len = 3;   /* has_phone not set: absent */
    *(int64_t *)fld(u, "send_paid_messages_stars") = 5;
    set_has(u, "send_paid_messages_stars");
    *(uint32_t *)fld(u, "flags") = 0x10;   /* stale bit of phone: recomputed */
    str_eq(to_json(u), "{\"_\":\"user\",\"flags\":268435456,\"premium\":true,\"flags2\":32768,"
                       "\"id\":\"1\",\"send_paid_messages_stars\":\"5\"}",
           "struct: has_ decides presence, flags words are recomputed");

    mtp_tl_object_t *p = mtp_tl_new(A, comb("userProfilePhoto"));
    *(void **)fld(u, "photo") = p;
    *(int32_t *)fld(p, "dc_id") = 2;
    str_eq(to_json(u), "{\"_\":\"user\",\"flags\":268435488,\"premium\":true,\"flags2\":32768,"
                       "\"id\":\"1\",\"photo\":{\"_\":\"userProfilePhoto\",\"flags\":0,"
                       "\"photo_id\":\"0\",\"dc_id\":2},\"send_paid_messages_stars\":\"5\"}",
           "optional object present when non-NULL");

    mtp_tl_object_t *r = mtp_tl_new(A, comb("rpc_result"));
    str_eq(to_json(r), "{\"_\":\"rpc_result\",\"req_msg_id\":\"0\",\"result\":null}",
           "a NULL required object is null");
    mtp_buf_t b;
    mtp_buf_init(&b);
    OK(mtp_tl_print(r, &b) == 0, "print does not crash on NULL either");
    mtp_buf_free(&b);

    /* vector with n > 0 and no items is refused, not dereferenced */
    mtp_tl_object_t *ack = mtp_tl_new(A, comb("msgs_ack"));
    ((mtp_vec_t *)fld(ack, "msg_ids"))->n = 3;
    mtp_buf_init(&b);
    OK(mtp_tl_to_json(ack, &b) == MTP_EINVAL && b.len == 0, "broken vector -> MTP_EINVAL");
    mtp_buf_free(&b);

    /* a cycle is caught by the depth limit */
    mtp_tl_object_t *q = mtp_tl_new(A, comb("invokeWithLayer"));
    *(void **)fld(q, "query") = q;
    mtp_buf_init(&b);
    OK(mtp_tl_to_json(q, &b) == MTP_EDEPTH, "cycle -> MTP_EDEPTH (to_json)");
    mtp_buf_clear(&b);
    OK(mtp_tl_print(q, &b) == MTP_EDEPTH, "cycle -> MTP_EDEPTH (print)");
    mtp_buf_free(&b);
}

static void test_errors(void)
{
    json_error("{\"_\":\"peerUser\",\"user_id\":\"1\",\"foo\":1}", "unknown field 'foo'",
               "unknown field");
    json_error("{\"_\":\"peerUser\"}", "missing field 'user_id'", "missing field");
    json_error("{\"_\":\"messages.sendMessage\",\"peer\":{\"_\":\"user\",\"id\":\"1\"},"
               "\"message\":\"x\",\"random_id\":\"1\"}",
               "field 'peer' of 'messages.sendMessage': expected InputPeer, got 'user'",
               "wrong constructor type");
    json_error("{\"_\":\"messages.sendMessage\",\"peer\":5,\"message\":\"x\",\"random_id\":\"1\"}",
               "field 'peer' of 'messages.sendMessage': expected InputPeer object, got 5",
               "number where an object is expected");
    {
        /* Object holds any boxed value: a container's message body is usually a method call */
        const char *js = "{\"_\":\"msg_container\",\"messages\":[{\"_\":\"message\",\"msg_id\":\"4\","
                         "\"seqno\":1,\"bytes\":4,\"body\":{\"_\":\"help.getConfig\"}}]}";
        char err[256] = "";
        mtp_tl_object_t *o = NULL;
        mtp_buf_t b;
        mtp_buf_init(&b);
        int rc = mtp_tl_from_json(L, js, strlen(js), A, &o, err, sizeof err);
        if (rc == 0)
            rc = mtp_tl_encode(o, &b);
        mtp_tl_object_t *back = NULL;
        if (rc == 0)
            rc = mtp_tl_decode(L, b.data, b.len, A, &back);
        if (!OK(rc == 0 && back && back->tl == o->tl, "a method call inside an Object field (container body)"))
            tap_diag("rc %d err %s", rc, err);
        mtp_buf_free(&b);
    }
    json_error("{\"_\":\"invokeWithLayer\",\"layer\":1,\"query\":{\"_\":\"config\"}}",
               "expected a method call, got 'config'", "constructor where !X is expected");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":1,\"lat\":1,\"long\":2}",
               "bit 0 is set but 'accuracy_radius' is absent", "flags disagree (bit set)");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":0,\"lat\":1,\"long\":2,\"accuracy_radius\":3}",
               "bit 0 is clear but 'accuracy_radius' is present", "flags disagree (bit clear)");
    json_error("{\"_\":\"auth.authorization\",\"flags\":0,\"otherwise_relogin_days\":7,"
               "\"user\":{\"_\":\"userEmpty\",\"id\":\"5\"}}",
               "bit 1 is clear but 'otherwise_relogin_days' is present", "shared bit clear");
    json_error("{\"_\":\"auth.authorization\",\"setup_password_required\":true,"
               "\"user\":{\"_\":\"userEmpty\",\"id\":\"5\"}}",
               "missing field 'otherwise_relogin_days' of 'auth.authorization': it shares "
               "flags.1 with 'setup_password_required'", "shared bit: the int is missing");
    json_error("{\"_\":\"message\",\"id\":5,\"peer_id\":{\"_\":\"peerUser\",\"user_id\":\"7\"},"
               "\"date\":1,\"message\":\"hi\",\"views\":10}",
               "missing field 'forwards' of 'message': it shares flags.10 with 'views'",
               "shared bit: views without forwards");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":-1,\"lat\":1,\"long\":2}", "uint32 range",
               "negative flags");
    json_error("{\"_\":\"resPQ\",\"nonce\":\"zz0102030405060708090a0b0c0d0e0f\","
               "\"server_nonce\":\"000102030405060708090a0b0c0d0e0f\",\"pq\":\"\","
               "\"server_public_key_fingerprints\":[]}", "bad hex digit", "bad hex digit");
    json_error("{\"_\":\"resPQ\",\"nonce\":\"0001\",\"server_nonce\":\"00\",\"pq\":\"\","
               "\"server_public_key_fingerprints\":[]}", "expected 32 hex digits",
               "int128 of the wrong length");
    json_error("{\"_\":\"gzip_packed\",\"packed_data\":\"abc\"}", "odd length", "odd hex");
    json_error("{\"_\":\"gzip_packed\",\"packed_data\":\"\\u0030\\u0030\"}", "escapes",
               "escaped hex");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":1,\"lat\":1,\"long\":2,"
               "\"accuracy_radius\":2147483648}", "out of the int32 range", "int overflow");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":1,\"lat\":1,\"long\":2,"
               "\"accuracy_radius\":-2147483649}", "out of the int32 range", "int underflow");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":1,\"lat\":1,\"long\":2,\"accuracy_radius\":1.5}",
               "expected an integer", "int with a fraction");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":1,\"lat\":1,\"long\":2,\"accuracy_radius\":\"1\"}",
               "expected an integer, got a string", "int as string");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"9223372036854775808\"}", "decimal int64",
               "long overflow");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"12a\"}", "decimal int64", "long not decimal");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"\"}", "decimal int64", "empty long");
    json_error("{\"_\":\"peerUser\",\"user_id\":1e3}", "expected an int64", "long with exponent");
    json_error("{\"_\":\"inputGeoPoint\",\"flags\":0,\"lat\":\"1\",\"long\":2}",
               "expected a number", "double as string");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"1\"} x", "trailing garbage", "trailing garbage");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"1\"}{}", "trailing garbage", "two objects");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"1\",}", "JSON syntax error", "trailing comma");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"1\"", "JSON syntax error", "unterminated object");
    json_error("{\"_\":\"peerUser\",\"user_id\":\"1", "unterminated string", "unterminated string");
    json_error("{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"a\nb\"}",
               "control character", "raw newline in a string");
    json_error("{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"\\x\"}", "bad escape",
               "bad escape");
    json_error("{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"\\u12G4\"}",
               "bad \\u escape", "bad \\u escape");
    json_error("{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"\xff\"}", "invalid UTF-8",
               "invalid UTF-8 in the JSON text");
    json_error("{\"_\":\"rpc_error\",\"error_code\":01,\"error_message\":\"\"}", "JSON syntax error",
               "leading zero");
    json_error("{\"_\":\"rpc_error\",\"error_code\":-,\"error_message\":\"\"}", "bad number",
               "lone minus");
    json_error("{\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"\",\"error_code\":2}",
               "duplicate field 'error_code'", "duplicate field");
    json_error("{\"_\":\"rpc_error\",\"_\":\"rpc_error\",\"error_code\":1,\"error_message\":\"\"}",
               "duplicate \"_\"", "duplicate \"_\"");
    json_error("{\"_\":\"nope\"}", "unknown constructor 'nope'", "unknown constructor");
    json_error("{\"_\":\"user\\u0000x\"}", "unknown constructor 'user", "NUL in a name");
    json_error("{\"_\":5}", "\"_\" must be a string", "\"_\" not a string");
    json_error("{\"user_id\":\"1\"}", "without \"_\"", "no \"_\"");
    json_error("[]", "expected a TL object", "array at the top level");
    json_error("", "expected a TL object, got end of input", "empty input");
    json_error("{\"_\":\"config\",\"test_mode\":1}", "expected true or false", "Bool as number");
    json_error("{\"_\":\"user\",\"flags\":0,\"flags2\":0,\"id\":\"1\",\"self\":null}",
               "expected true or false", "true field as null");
    json_error("{\"_\":\"rpc_result\",\"req_msg_id\":\"1\",\"result\":null}",
               "field 'result' of 'rpc_result': expected Object object, got null",
               "required object as null");
    json_error("{\"_\":\"msgs_ack\",\"msg_ids\":{}}", "expected an array", "object for a vector");
    json_error("{\"_\":\"msgs_ack\",\"msg_ids\":[1,]}", "field 'msg_ids' of 'msgs_ack'", "bad array");
    json_error("{\"_\":\"future_salts\",\"req_msg_id\":\"1\",\"now\":2,\"salts\":["
               "{\"_\":\"pong\",\"msg_id\":\"1\",\"ping_id\":\"2\"}]}",
               "expected future_salt, got 'pong'", "wrong bare constructor");

    /* deep nesting: 70 nested queries, then 100000 nested arrays in an unknown field */
    mtp_buf_t b;
    mtp_buf_init(&b);
    for (int i = 0; i < 70; i++)
        mtp_buf_printf(&b, "{\"_\":\"invokeWithLayer\",\"layer\":1,\"query\":");
    mtp_buf_printf(&b, "{\"_\":\"help.getConfig\"}");
    for (int i = 0; i < 70; i++)
        mtp_buf_putc(&b, '}');
    mtp_buf_putc(&b, 0);
    json_error((const char *)b.data, "nesting deeper than 64", "70 nested objects");
    mtp_buf_clear(&b);
    for (int i = 0; i < 60; i++)
        mtp_buf_printf(&b, "{\"_\":\"invokeWithLayer\",\"layer\":1,\"query\":");
    mtp_buf_printf(&b, "{\"_\":\"help.getConfig\"}");
    for (int i = 0; i < 60; i++)
        mtp_buf_putc(&b, '}');
    char err[256];
    mtp_tl_object_t *o;
    OK(mtp_tl_from_json(L, (const char *)b.data, b.len, A, &o, err, sizeof err) == 0,
       "61 nested objects are fine");
    mtp_buf_clear(&b);
    mtp_buf_printf(&b, "{\"user_id\":\"1\",\"x\":");
    for (int i = 0; i < 100000; i++)
        mtp_buf_putc(&b, '[');
    for (int i = 0; i < 100000; i++)
        mtp_buf_putc(&b, ']');
    mtp_buf_printf(&b, ",\"_\":\"peerUser\"}");
    mtp_buf_putc(&b, 0);
    json_error((const char *)b.data, "nesting deeper", "100000 nested arrays");
    mtp_buf_clear(&b);
    mtp_buf_printf(&b, "{\"_\":\"msgs_ack\",\"msg_ids\":");
    for (int i = 0; i < 300; i++)
        mtp_buf_putc(&b, '[');
    mtp_buf_putc(&b, 0);
    json_error((const char *)b.data, "expected", "nested arrays for Vector<long>");
    mtp_buf_free(&b);

    /* value_from_json */
    const mtp_tl_param_t *ids = param(comb("msgs_ack"), "msg_ids");
    mtp_vec_long_t v = {0, NULL};
    OK(mtp_tl_value_from_json(L, ids->type, "[\"1\",2]", 7, A, &v, err, sizeof err) == 0 &&
       v.n == 2 && v.v[0] == 1 && v.v[1] == 2, "value_from_json(Vector<long>)");
    OK(mtp_tl_value_from_json(L, ids->type, "[\"1\",2] 3", 9, A, &v, err, sizeof err) == MTP_EJSON &&
       strstr(err, "trailing"), "value_from_json: trailing garbage");
    OK(mtp_tl_from_json(L, NULL, 0, A, &o, err, sizeof err) == MTP_EJSON, "NULL text, len 0");
    OK(mtp_tl_from_json(NULL, "{}", 2, A, &o, err, sizeof err) == MTP_EINVAL, "NULL layer");
}

static void test_print(void)
{
    const char *json =
        "{\"_\":\"messages.messages\",\"messages\":[{\"_\":\"message\",\"flags\":2,\"out\":true,"
        "\"flags2\":0,\"id\":5,\"peer_id\":{\"_\":\"peerUser\",\"user_id\":\"777\"},"
        "\"date\":1700000000,\"message\":\"hi \\\"there\\\"\\n\\u0001\"}],\"topics\":[],\"chats\":[],"
        "\"users\":[{\"_\":\"userEmpty\",\"id\":\"-1\"}]}";
    const char *want =
        "messages.messages\n"
        "  messages: Vector<Message> [\n"
        "    message\n"
        "      flags: 0x00000002\n"
        "      out: true\n"
        "      flags2: 0x00000000\n"
        "      id: 5\n"
        "      peer_id: peerUser\n"
        "        user_id: 777\n"
        "      date: 1700000000\n"
        "      message: \"hi \\\"there\\\"\\n\\x01\"\n"
        "  ]\n"
        "  topics: Vector<ForumTopic> []\n"
        "  chats: Vector<Chat> []\n"
        "  users: Vector<User> [\n"
        "    userEmpty\n"
        "      id: -1\n"
        "  ]\n";
    char err[256];
    mtp_tl_object_t *o;
    int rc = mtp_tl_from_json(L, json, strlen(json), A, &o, err, sizeof err);
    if (!tap_ok(rc == 0, "print: from_json")) {
        tap_diag("%s", err);
        return;
    }
    mtp_buf_t b;
    mtp_buf_init(&b);
    rc = mtp_tl_print(o, &b);
    mtp_buf_putc(&b, 0);
    str_eq(rc ? "<failed>" : (const char *)b.data, want, "print: nested objects and vectors");

    const char *j2 = "{\"_\":\"resPQ\",\"nonce\":\"000102030405060708090a0b0c0d0e0f\","
                     "\"server_nonce\":\"000102030405060708090a0b0c0d0e0f\",\"pq\":\"\","
                     "\"server_public_key_fingerprints\":[\"1\",\"-2\"]}";
    rc = mtp_tl_from_json(L, j2, strlen(j2), A, &o, err, sizeof err);
    ((mtp_bytes_t *)fld(o, "pq"))->ptr = (const uint8_t *)"\x17\xed\x48\x94";
    ((mtp_bytes_t *)fld(o, "pq"))->len = 4;
    mtp_buf_clear(&b);
    rc = rc ? rc : mtp_tl_print(o, &b);
    mtp_buf_putc(&b, 0);
    str_eq(rc ? "<failed>" : (const char *)b.data,
           "resPQ\n"
           "  nonce: 000102030405060708090a0b0c0d0e0f\n"
           "  server_nonce: 000102030405060708090a0b0c0d0e0f\n"
           "  pq: 17ed4894 (4 bytes)\n"
           "  server_public_key_fingerprints: Vector<long> [1, -2]\n",
           "print: int128, bytes, vector of longs on one line");
    mtp_tl_object_t *e = mtp_tl_new(A, comb("rpc_error"));
    *(int32_t *)fld(e, "error_code") = -5;
    ((mtp_bytes_t *)fld(e, "error_message"))->ptr = (const uint8_t *)"\x17\xed\x48\x94\xc3\xa9\t\\";
    ((mtp_bytes_t *)fld(e, "error_message"))->len = 8;
    mtp_buf_clear(&b);
    rc = mtp_tl_print(e, &b);
    mtp_buf_putc(&b, 0);
    str_eq(rc ? "<failed>" : (const char *)b.data,
           "rpc_error\n  error_code: -5\n  error_message: \"\\x17\\xedH\\x94\xc3\xa9\\t\\\\\"\n",
           "print: string escapes, invalid UTF-8 as \\xNN, valid UTF-8 raw");

    mtp_tl_object_t *g = mtp_tl_new(A, comb("gzip_packed"));
    ((mtp_bytes_t *)fld(g, "packed_data"))->ptr = (const uint8_t *)"\x1f\x8b";
    ((mtp_bytes_t *)fld(g, "packed_data"))->len = 2;
    mtp_buf_clear(&b);
    rc = mtp_tl_print(g, &b);
    mtp_buf_putc(&b, 0);
    str_eq(rc ? "<failed>" : (const char *)b.data, "gzip_packed\n  packed_data: 1f8b (2 bytes)\n",
           "print: bytes in hex with the length");

    mtp_tl_object_t *gp = mtp_tl_new(A, comb("inputGeoPoint"));
    *(double *)fld(gp, "lat") = 1e21;
    *(double *)fld(gp, "long") = NAN;
    mtp_buf_clear(&b);
    rc = mtp_tl_print(gp, &b);
    mtp_buf_putc(&b, 0);
    str_eq(rc ? "<failed>" : (const char *)b.data,
           "inputGeoPoint\n  flags: 0x00000000\n  lat: 1e+21\n  long: NaN\n", "print: doubles");

    const mtp_tl_param_t *ids = param(comb("msgs_ack"), "msg_ids");
    int64_t items[] = {5, -6};
    mtp_vec_long_t v = {2, items};
    mtp_buf_clear(&b);
    rc = mtp_tl_print_value(ids->type, &v, &b);
    mtp_buf_putc(&b, 0);
    str_eq(rc ? "<failed>" : (const char *)b.data, "Vector<long> [5, -6]\n", "print_value");
    mtp_buf_free(&b);
}

static void test_convert(void)
{
    const mtp_tl_layer_t *l227 = mtp_tl_layer(227), *l198 = mtp_tl_layer(198);
    if (!l227 || !l198) {
        tap_skip("layers 227/198 not compiled in", 1);
        return;
    }
    const char *json =
        "{\"_\":\"user\",\"flags\":1073741891,\"flags2\":3244067,\"bot_can_edit\":true,"
        "\"bot_forum_view\":true,\"bot_guard\":true,\"id\":\"42\",\"access_hash\":\"7\","
        "\"first_name\":\"Ann\",\"status\":{\"_\":\"userStatusOnline\",\"expires\":9},"
        "\"emoji_status\":{\"_\":\"emojiStatus\",\"flags\":0,\"document_id\":\"3\"},"
        "\"usernames\":[{\"_\":\"username\",\"flags\":2,\"active\":true,\"username\":\"ann\"}],"
        "\"stories_max_id\":{\"_\":\"recentStory\",\"flags\":0},"
        "\"send_paid_messages_stars\":\"11\",\"linked_community_id\":\"12\"}";
    char err[256];
    mtp_tl_object_t *u;
    int rc = mtp_tl_from_json(L, json, strlen(json), A, &u, err, sizeof err);
    if (!tap_ok(rc == 0, "convert: source user")) {
        tap_diag("%s", err);
        return;
    }
    mtp_tl_object_t *u227, *u198;
    rc = mtp_tl_convert(u, l227, A, &u227);
    OK(rc == 0 && u227->tl->id == 0x31774388u, "user 228 -> 227: id 31774388");
    if (!rc)
        str_eq(to_json(u227),
               "{\"_\":\"user\",\"flags\":1073741891,\"flags2\":1146915,\"bot_can_edit\":true,"
               "\"bot_forum_view\":true,\"bot_guard\":true,\"id\":\"42\",\"access_hash\":\"7\","
               "\"first_name\":\"Ann\",\"status\":{\"_\":\"userStatusOnline\",\"expires\":9},"
               "\"emoji_status\":{\"_\":\"emojiStatus\",\"flags\":0,\"document_id\":\"3\"},"
               "\"usernames\":[{\"_\":\"username\",\"flags\":2,\"active\":true,\"username\":\"ann\"}],"
               "\"stories_max_id\":{\"_\":\"recentStory\",\"flags\":0},"
               "\"send_paid_messages_stars\":\"11\"}",
               "  ... linked_community_id (new in 228) dropped");
    rc = mtp_tl_convert(u, l198, A, &u198);
    OK(rc == 0 && u198->tl->id == 0x4b46c37eu, "user 228 -> 198: id 4b46c37e");
    if (!rc) {
        str_eq(to_json(u198),
               "{\"_\":\"user\",\"flags\":1073741891,\"flags2\":3,\"bot_can_edit\":true,"
               "\"id\":\"42\",\"access_hash\":\"7\","
               "\"first_name\":\"Ann\",\"status\":{\"_\":\"userStatusOnline\",\"expires\":9},"
               "\"emoji_status\":{\"_\":\"emojiStatus\",\"flags\":0,\"document_id\":\"3\"},"
               "\"usernames\":[{\"_\":\"username\",\"flags\":2,\"active\":true,\"username\":\"ann\"}]}",
               "  ... fields 198 lacks dropped, stories_max_id (int in 198) dropped");
        mtp_buf_t b;
        mtp_buf_init(&b);
        mtp_tl_object_t *back;
        rc = mtp_tl_encode(u198, &b);
        OK(rc == 0 && b.len >= 4 && !memcmp(b.data, "\x7e\xc3\x46\x4b", 4) &&
           mtp_tl_decode(l198, b.data, b.len, A, &back) == 0 && !strcmp(to_json(back), to_json(u198)),
           "  ... encodes with the 198 id and decodes in layer 198");
        mtp_buf_free(&b);
        mtp_tl_object_t *up;
        rc = mtp_tl_convert(u198, L, A, &up);
        OK(rc == 0 && up->tl->id == 0xb1b8cc83u, "user 198 -> 228 again");
    }

    /* help.getConfig's result */
    const char *cfg =
        "{\"_\":\"config\",\"flags\":5,\"date\":1,\"expires\":2,"
        "\"test_mode\":false,\"this_dc\":2,\"dc_options\":[{\"_\":\"dcOption\",\"flags\":0,"
        "\"id\":1,\"ip_address\":\"127.0.0.1\",\"port\":4430},{\"_\":\"dcOption\",\"flags\":1026,"
        "\"media_only\":true,\"id\":2,\"ip_address\":\"127.0.0.1\",\"port\":4431,\"secret\":\"ab\"}],"
        "\"dc_txt_domain_name\":\"x\",\"chat_size_max\":1,\"megagroup_size_max\":2,"
        "\"forwarded_count_max\":3,\"online_update_period_ms\":4,"
        "\"offline_blur_timeout_ms\":5,\"offline_idle_timeout_ms\":6,"
        "\"online_cloud_timeout_ms\":7,\"notify_cloud_delay_ms\":8,"
        "\"notify_default_delay_ms\":9,\"push_chat_period_ms\":10,\"push_chat_limit\":11,"
        "\"edit_time_limit\":12,\"revoke_time_limit\":13,\"revoke_pm_time_limit\":14,"
        "\"rating_e_decay\":15,\"stickers_recent_limit\":16,"
        "\"channels_read_media_period\":17,\"tmp_sessions\":3,\"call_receive_timeout_ms\":18,"
        "\"call_ring_timeout_ms\":19,\"call_connect_timeout_ms\":20,"
        "\"call_packet_timeout_ms\":21,\"me_url_prefix\":\"t.me\",\"caption_length_max\":22,"
        "\"message_length_max\":23,\"webfile_dc_id\":24,\"suggested_lang_code\":\"en\","
        "\"lang_pack_version\":25,\"base_lang_pack_version\":26}";
    mtp_tl_object_t *c, *c2;
    rc = mtp_tl_from_json(L, cfg, strlen(cfg), A, &c, err, sizeof err);
    if (!tap_ok(rc == 0, "convert: source config")) {
        tap_diag("%s", err);
        return;
    }
    const mtp_tl_layer_t *targets[] = {l227, l198};
    for (int i = 0; i < 2; i++) {
        rc = mtp_tl_convert(c, targets[i], A, &c2);
        OK(rc == 0 && c2->tl == mtp_tl_find_name(targets[i], "config", 6) && c2->tl != c->tl,
           "config 228 -> %d", targets[i]->layer);
        if (rc)
            continue;
        str_eq(to_json(c2), cfg, "  ... same JSON");
        mtp_buf_t b1, b2;
        mtp_buf_init(&b1);
        mtp_buf_init(&b2);
        OK(mtp_tl_encode(c, &b1) == 0 && mtp_tl_encode(c2, &b2) == 0 && b1.len == b2.len &&
           !memcmp(b1.data, b2.data, b1.len), "  ... same bytes");
        mtp_buf_free(&b1);
        mtp_buf_free(&b2);
    }

    /* a constructor without a namesake */
    mtp_tl_object_t *m;
    const char *mj = "{\"_\":\"messages.messages\",\"messages\":[],\"topics\":[],\"chats\":[],\"users\":"
                     "[{\"_\":\"user\",\"flags\":0,\"flags2\":0,\"id\":\"1\","
                     "\"stories_max_id\":{\"_\":\"recentStory\",\"flags\":0}}]}";
    rc = mtp_tl_from_json(L, mj, strlen(mj), A, &m, err, sizeof err);
    const mtp_tl_comb_t *rs198 = mtp_tl_find_name(l198, "recentStory", 11);
    if (!rc && !rs198) {
        mtp_tl_object_t *m2;
        mtp_tl_object_t *rs = *(mtp_tl_object_t **)fld(
            ((mtp_vec_obj_t *)fld(m, "users"))->v[0], "stories_max_id");
        OK(mtp_tl_convert(rs, l198, A, &m2) == MTP_ENOTFOUND,
           "convert: recentStory has no namesake in 198 -> MTP_ENOTFOUND");
        OK(mtp_tl_convert(m, l198, A, &m2) == 0, "convert: ... but a user holding it drops the field");
    } else {
        tap_skip("recentStory exists in 198", 2);
    }
}

int main(void)
{
    L = mtp_tl_layer(MTP_TL_DEFAULT_LAYER);
    if (!L)
        tap_bail("layer 228 missing");
    A = mtp_arena_new(0);
    test_simple_kinds();
    test_service();
    test_flags();
    test_doubles();
    test_strings();
    test_structs();
    test_errors();
    test_print();
    test_convert();
    mtp_arena_free(A);
    return tap_done();
}
