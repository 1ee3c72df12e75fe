// mtcute (npm @mtcute/node 0.30.3 with @mtcute/core 0.30.3, layer 227) against a running
// mtproto-harness.
//
//   node mtcute.mjs READY_JSON|READY_FILE PUBKEY_PEM [--transport intermediate,padded,…] [--phone-dc X]
//   node mtcute.mjs READY_JSON|READY_FILE PUBKEY_PEM --bench N [--transport intermediate] [--inflight 100]
//
// Per transport (mtcute has intermediate, padded intermediate and obfuscated; no abridged or
// full): connect to DC 1 (key exchange; defaultDcs main = DC 1, our PKCS#1 key only,
// MemoryStorage, disableUpdates), help.getConfig, 20 pongs to mtcute's own keep-alive
// ping_delay_disconnect (call({_:'mt_ping'}) would never resolve), a login whose phone lives on
// another DC (PHONE_MIGRATE_X: mtcute switches its primary DC), 100 RPCs with 10 in flight.
// Prints one JSON line per check; exit status 1 if any failed. Bounded by --timeout (60 s).
import {
    API_HASH, API_ID, DEBUG, check, emit, errText, failed, parseArgs, phoneOn, pickPhoneDc, pool,
    rsaKeyInfo, sleep, step, within, watchdog,
} from './common.mjs'
import {
    IntermediatePacketCodec, MemoryStorage, ObfuscatedPacketCodec, PaddedIntermediatePacketCodec,
    SessionConnection, TcpTransport, TelegramClient,
} from '@mtcute/node'
import { NodeCryptoProvider } from '@mtcute/node/utils.js'
import { addPublicKey, parsePublicKey } from '@mtcute/core/utils.js'

import { readFileSync } from 'node:fs'

const pkgVersion = (name) =>
    JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version
const VERSION = pkgVersion('@mtcute/node')
const CORE_VERSION = pkgVersion('@mtcute/core')

const PEER = 'mtcute'
const TRANSPORTS = ['intermediate', 'padded', 'obfuscated', 'obfuscated_padded']
const CODECS = {
    intermediate: () => new IntermediatePacketCodec(),
    padded: () => new PaddedIntermediatePacketCodec(),
    obfuscated: () => new ObfuscatedPacketCodec(new IntermediatePacketCodec()),
    obfuscated_padded: () => new ObfuscatedPacketCodec(new PaddedIntermediatePacketCodec()),
}

class Transport extends TcpTransport {
    constructor(name) {
        super()
        this.name = name
    }
    packetCodec() {
        return CODECS[this.name]()
    }
}

// ---- watching mtcute's keep-alive pings ----
// A pong counts when it answers the ping mtcute sent (msg_id known, ping_id equal).
const pongs = { matched: 0, unmatched: 0 }
let fastPing = false
{
    const proto = SessionConnection.prototype
    const onPong = proto._onPong
    proto._onPong = function (msg) {
        const info = this._session.pendingMessages.get(msg.msgId)
        if (info && info._ === 'ping' && info.pingId.eq(msg.pingId)) pongs.matched++
        else pongs.unmatched++
        return onPong.call(this, msg)
    }
    // idle connections ping every pingInterval + up to 5 s; while counting pongs, ask for one
    // every 50 ms instead
    const mustDelay = proto._pingMustDelay
    proto._pingMustDelay = function () {
        return fastPing ? 50 : mustDelay.call(this)
    }
}

// Diagnostics only (never set by the test): MTP_PEERS_MTCUTE_EVEN_ACKS=1 makes mtcute send
// msgs_ack as not content-related (even seq_no), to look past a server that rejects its
// odd-seq_no acks with bad_msg_notification 34.
if (process.env.MTP_PEERS_MTCUTE_EVEN_ACKS) {
    const flush = SessionConnection.prototype._doFlush
    SessionConnection.prototype._doFlush = function () {
        const sess = this._session
        if (!sess.__evenAcks) {
            const write = sess.writeMessage
            sess.writeMessage = function (writer, content, isContentRelated = true) {
                const ack = ArrayBuffer.isView(content) && content.length >= 4 &&
                    content[0] === 0x59 && content[1] === 0xb4 && content[2] === 0xd6 && content[3] === 0x62
                return write.call(this, writer, content, ack ? false : isContentRelated)
            }
            sess.__evenAcks = true
        }
        return flush.call(this)
    }
}

// Only our key: the client must pick the harness's fingerprint or fail.
async function trustOnly(pem) {
    const crypto = new NodeCryptoProvider()
    await crypto.initialize()
    let index = null
    try {
        // not exported by name; the same module instance, imported by its file
        const { __publicKeyIndex } = await import(new URL('./node_modules/@mtcute/core/tl/binary/rsa-keys.js', import.meta.url))
        index = __publicKeyIndex
        for (const k of Object.keys(index)) delete index[k]
    } catch (e) {
        if (DEBUG) console.error('could not clear the built-in keys:', e)
    }
    addPublicKey(crypto, pem)
    const parsed = parsePublicKey(crypto, pem)
    // mtcute 0.30.3 indexes keys by the zero-padded hex fingerprint but looks them up with
    // toString(16), which drops leading zeros: a key whose fingerprint starts with a 0 nibble
    // (1 in 16 fresh keys) is never found. Register the unpadded spelling too.
    if (index) index[parsed.fingerprint.replace(/^0+(?=.)/, '')] = parsed
    return parsed
}

function newClient(opt, name) {
    const d = opt.dcs.get(1)
    const dc1 = { id: 1, ipAddress: d.host, port: d.port }
    return new TelegramClient({
        apiId: API_ID,
        apiHash: API_HASH,
        storage: new MemoryStorage(),
        transport: new Transport(name),
        defaultDcs: { main: dc1, media: dc1 },
        testMode: false,
        disableUpdates: true,
        logLevel: DEBUG ? 5 : 2, // warnings go to stderr (console.log is redirected)
        initConnectionOptions: { deviceModel: 'libmtproto interop', systemVersion: 'test', appVersion: VERSION },
        network: { pingInterval: 60000 },
    })
}

async function closeClient(tg) {
    if (!tg) return
    try {
        await within(5000, tg.destroy(), 'client.destroy()')
    } catch {
        /* the process exits anyway */
    }
}

async function runTransport(opt, name, idx) {
    const P = `${PEER}/${name}`
    let tg = newClient(opt, name)
    try {
        // 1. key exchange on DC 1: connect() only starts it; the first RPC waits for the key
        await step(`${P}/connect`, async () => {
            const t0 = performance.now()
            await within(20000, tg.connect(), 'client.connect()')
            const nd = await within(20000, tg.call({ _: 'help.getNearestDc' }), 'key exchange + help.getNearestDc')
            const dc = await tg.getPrimaryDcId()
            if (dc !== 1 || nd.thisDc !== 1) throw new Error(`primary DC ${dc}, this_dc ${nd.thisDc}, want 1`)
            return { dc, layer: tg._client?.mt?._layer, ms: Math.round(performance.now() - t0) }
        }, { critical: true })

        // 2. help.getConfig: dc_options must list every DC of the ready line
        await step(`${P}/help.getConfig`, async () => {
            const cfg = await within(10000, tg.call({ _: 'help.getConfig' }), 'help.getConfig')
            if (cfg._ !== 'config') throw new Error(`got ${cfg._}`)
            const missing = []
            for (const d of opt.dcs.values()) {
                if (!cfg.dcOptions.some((o) => o.id === d.id && o.ipAddress === d.host && o.port === d.port && !o.ipv6)) {
                    missing.push(`${d.id}@${d.host}:${d.port}`)
                }
            }
            if (cfg.thisDc !== 1) throw new Error(`this_dc = ${cfg.thisDc}, want 1`)
            if (missing.length) throw new Error(`dc_options lacks ${missing.join(' ')}`)
            return { this_dc: cfg.thisDc, dc_options: cfg.dcOptions.length }
        })

        // 3. 20 pongs to mtcute's own ping_delay_disconnect
        await step(`${P}/ping x20`, async () => {
            const before = { ...pongs }
            const t0 = performance.now()
            fastPing = true
            try {
                // kick the flush timer: an RPC makes the connection flush, and the ping is due
                await within(5000, tg.call({ _: 'help.getNearestDc' }), 'help.getNearestDc')
                while (pongs.matched - before.matched < 20) {
                    if (pongs.unmatched !== before.unmatched) throw new Error('a pong did not match its ping')
                    if (performance.now() - t0 > 10000) {
                        throw new Error(`only ${pongs.matched - before.matched} pongs in 10 s`)
                    }
                    await sleep(20)
                }
            } finally {
                fastPing = false
            }
            return { pongs: pongs.matched - before.matched, ms: Math.round(performance.now() - t0) }
        })

        // 4. login on another DC: auth.sendCode -> 303 PHONE_MIGRATE_X -> mtcute switches its
        // primary DC (new key there) and retries; auth.signIn there with code XXXXX
        const target = pickPhoneDc(opt, 1, 3)
        const phone = phoneOn(target, 200 + idx)
        let loggedIn = false
        if (!target) {
            check(`${P}/login`, false, { error: 'need at least 2 DCs for a migration' })
        } else {
            loggedIn = await step(`${P}/login`, async () => {
                const t0 = performance.now()
                const sent = await within(25000, tg.sendCode({ phone }), 'auth.sendCode (with migration)')
                if (!sent.phoneCodeHash) throw new Error(`auth.sendCode gave ${JSON.stringify(sent)}`)
                const dcNow = await tg.getPrimaryDcId()
                if (dcNow !== target) throw new Error(`after auth.sendCode the primary DC is ${dcNow}, want ${target}`)
                const user = await within(10000, tg.signIn({
                    phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: String(target).repeat(5),
                }), 'auth.signIn')
                if (String(user.id) !== phone || user.phoneNumber !== phone) {
                    throw new Error(`signed in as id ${user.id} phone ${user.phoneNumber}`)
                }
                return { phone, migrated_to: dcNow, user_id: String(user.id), ms: Math.round(performance.now() - t0) }
            })
        }

        // 5. 100 RPCs, 10 in flight; every answer checked
        await step(`${P}/rpc x100`, async () => {
            let bad = null
            const n = 100
            const want = await tg.getPrimaryDcId()
            const secs = await within(20000, pool(n, 10, async (i) => {
                if (loggedIn && i % 2) {
                    const users = await tg.call({ _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] })
                    if (!Array.isArray(users) || users.length !== 1 || String(users[0].id) !== phone) {
                        bad ??= `users.getUsers #${i}: ${JSON.stringify(users?.map?.((u) => String(u.id)))}`
                    }
                } else {
                    const nd = await tg.call({ _: 'help.getNearestDc' })
                    if (nd._ !== 'nearestDc' || nd.thisDc !== want) bad ??= `help.getNearestDc #${i}: this_dc ${nd?.thisDc}, want ${want}`
                }
            }), '100 RPCs')
            if (bad) throw new Error(bad)
            return { rpcs: n, inflight: 10, seconds: +secs.toFixed(3), rpcs_per_s: Math.round(n / secs) }
        })
    } finally {
        await closeClient(tg)
        tg = null
    }
}

async function bench(opt) {
    const name = opt.transports.length === TRANSPORTS.length ? 'intermediate' : opt.transports[0]
    const inflight = opt.inflight || 100
    const tg = newClient(opt, name)
    try {
        await within(20000, tg.connect(), 'client.connect()')
        await within(10000, pool(Math.min(200, opt.bench), inflight, () => tg.call({ _: 'help.getNearestDc' })), 'warm-up')
        let bad = 0
        const secs = await within((opt.timeout - 5) * 1000, pool(opt.bench, inflight, async () => {
            const nd = await tg.call({ _: 'help.getNearestDc' })
            if (nd._ !== 'nearestDc' || nd.thisDc !== 1) bad++
        }), `${opt.bench} RPCs`)
        emit({
            peer: `@mtcute/node ${VERSION}`, transport: name, rpcs: opt.bench, inflight, seconds: +secs.toFixed(3),
            rpcs_per_s: Math.round(opt.bench / secs), bad_answers: bad,
        })
        if (bad) process.exitCode = 1
    } catch (e) {
        check(`${PEER}/bench`, false, { error: errText(e) })
    } finally {
        await closeClient(tg)
    }
}

async function main() {
    const opt = parseArgs('mtcute.mjs', TRANSPORTS)
    watchdog(PEER, opt.timeout)
    const key = rsaKeyInfo(opt.pem)
    const parsed = await trustOnly(opt.pem)
    if (opt.bench > 0) {
        await bench(opt)
    } else {
        const theirs = BigInt.asIntN(64, BigInt('0x' + parsed.fingerprint)).toString()
        check(`${PEER}/key`, key.fingerprint === String(opt.ready.rsa_fingerprint) && theirs === key.fingerprint, {
            pem_fingerprint: key.fingerprint, mtcute_fingerprint: theirs,
            ready_fingerprint: String(opt.ready.rsa_fingerprint), version: VERSION, core: CORE_VERSION,
        })
        for (const t of opt.transports) await runTransport(opt, t, TRANSPORTS.indexOf(t))
    }
    process.exit(failed() || process.exitCode ? 1 : 0)
}

main().catch((e) => {
    check(`${PEER}/main`, false, { error: errText(e) })
    if (DEBUG) console.error(e)
    process.exit(1)
})
