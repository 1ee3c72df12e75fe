// GramJS (npm `telegram` 2.26.22, layer 198) against a running mtproto-harness.
//
//   node gramjs.mjs READY_JSON|READY_FILE PUBKEY_PEM [--transport abridged,full,…] [--phone-dc X]
//   node gramjs.mjs READY_JSON|READY_FILE PUBKEY_PEM --bench N [--transport intermediate] [--inflight 100]
//
// Per transport: the auth-key exchange alone (MTProtoPlainSender + doAuthentication), a full
// client connect to DC 1, help.getConfig, 20 pings, a login whose phone lives on another DC
// (PHONE_MIGRATE_X, then GramJS's own migration), and 100 RPCs with 10 in flight.
// Prints one JSON line per check; exit status 1 if any failed. Bounded by --timeout (60 s).
import {
    API_HASH, API_ID, DEBUG, check, emit, errText, failed, parseArgs, phoneOn, pickPhoneDc, pool,
    rsaKeyInfo, step, within, watchdog,
} from './common.mjs'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'

const require = createRequire(import.meta.url)
const { TelegramClient, Api } = require('telegram')
const { MemorySession } = require('telegram/sessions')
const { Logger } = require('telegram/extensions/Logger')
const { PromisedNetSockets } = require('telegram/extensions')
const {
    Connection, ObfuscatedConnection, PacketCodec,
} = require('telegram/network/connection/Connection')
const { ConnectionTCPAbridged, AbridgedPacketCodec } = require('telegram/network/connection/TCPAbridged')
const { ConnectionTCPFull } = require('telegram/network/connection/TCPFull')
const { ConnectionTCPObfuscated } = require('telegram/network/connection/TCPObfuscated')
const { MTProtoPlainSender } = require('telegram/network/MTProtoPlainSender')
const { doAuthentication } = require('telegram/network/Authenticator')
const RSA = require('telegram/crypto/RSA')
const { LAYER } = require('telegram/tl/AllTLObjects')
const bigInt = require('big-integer')
const VERSION = require('telegram/package.json').version

const PEER = 'gramjs'
const TRANSPORTS = ['abridged', 'intermediate', 'padded', 'full', 'obfuscated', 'obfuscated_padded']

// ---- intermediate and padded intermediate (GramJS has no built-in codec for them) ----
class IntermediateCodec extends PacketCodec {
    constructor(conn) {
        super(conn)
        this.tag = IntermediateCodec.tag
        this.obfuscateTag = IntermediateCodec.obfuscateTag
    }
    encodePacket(data) {
        const head = Buffer.alloc(4)
        head.writeUInt32LE(data.length, 0)
        return Buffer.concat([head, data])
    }
    async readPacket(reader) {
        // the plain socket's read() may return less; the obfuscation layer's read() is exact
        const exact = (n) => (reader.readExactly ? reader.readExactly(n) : reader.read(n))
        const head = await exact(4)
        const len = head.readInt32LE(0)
        if (len < 4 || len > 16 * 1024 * 1024) throw new Error(`intermediate: bad frame length ${len}`)
        return exact(len)
    }
}
IntermediateCodec.tag = Buffer.from('eeeeeeee', 'hex')
IntermediateCodec.obfuscateTag = Buffer.from('eeeeeeee', 'hex')

class PaddedCodec extends IntermediateCodec {
    constructor(conn) {
        super(conn)
        this.tag = PaddedCodec.tag
        this.obfuscateTag = PaddedCodec.obfuscateTag
    }
    encodePacket(data) {
        const pad = randomBytes(randomBytes(1)[0] % 16)
        const head = Buffer.alloc(4)
        head.writeUInt32LE(data.length + pad.length, 0)
        return Buffer.concat([head, data, pad])
    }
    async readPacket(reader) {
        const frame = await super.readPacket(reader)
        if (frame.length < 24) return frame // transport error code, or garbage for the sender to reject
        // strip the 0..15 random bytes: plain messages say their length, encrypted ones are
        // auth_key_id + msg_key + a multiple of 16
        if (frame.readBigUInt64LE(0) === 0n) {
            const len = frame.readInt32LE(16)
            return len >= 0 && 20 + len <= frame.length ? frame.subarray(0, 20 + len) : frame
        }
        return frame.subarray(0, 24 + Math.floor((frame.length - 24) / 16) * 16)
    }
}
PaddedCodec.tag = Buffer.from('dddddddd', 'hex')
PaddedCodec.obfuscateTag = Buffer.from('dddddddd', 'hex')

// Connection classes whose constructor takes the address from the ready line by DC id
// (GramJS itself would use port 80 and the production addresses).
function routedClasses(dcs) {
    const route = (o) => {
        const dc = dcs.get(Number(o.dcId)) ?? dcs.get(1)
        return { ...o, ip: dc.host, port: dc.port }
    }
    return {
        abridged: class extends ConnectionTCPAbridged { constructor(o) { super(route(o)) } },
        full: class extends ConnectionTCPFull { constructor(o) { super(route(o)) } },
        obfuscated: class extends ConnectionTCPObfuscated { constructor(o) { super(route(o)) } },
        intermediate: class extends Connection {
            constructor(o) { super(route(o)); this.PacketCodecClass = IntermediateCodec }
        },
        padded: class extends Connection {
            constructor(o) { super(route(o)); this.PacketCodecClass = PaddedCodec }
        },
        obfuscated_padded: class extends ObfuscatedConnection {
            constructor(o) {
                super(route(o))
                this.ObfuscatedIO = ObfuscatedIO
                this.PacketCodecClass = PaddedCodec
            }
        },
    }
}

// GramJS does not export its obfuscation layer; take it from an (unconnected) instance.
const ObfuscatedIO = new ConnectionTCPObfuscated({ socket: PromisedNetSockets }).ObfuscatedIO

const logger = () => new Logger(DEBUG ? 'debug' : 'error')

// Only our key: the client must pick the harness's fingerprint or fail.
function trustOnly(key) {
    RSA._serverKeys.clear()
    RSA._serverKeys.set(key.fingerprint, { n: bigInt(key.nBig.toString()), e: Number(key.eBig) })
}

function newClient(opt, Conn, dcId) {
    const dc = opt.dcs.get(dcId)
    const session = new MemorySession()
    session.setDC(dcId, dc.host, dc.port)
    const client = new TelegramClient(session, API_ID, API_HASH, {
        connection: Conn,
        useWSS: false,
        connectionRetries: 1,
        requestRetries: 3,
        retryDelay: 100,
        timeout: 10,
        autoReconnect: false,
        baseLogger: logger(),
        deviceModel: 'libmtproto interop', systemVersion: 'test', appVersion: VERSION,
    })
    // migration and exported senders ask getDC; without this GramJS would use port 443
    client.getDC = async (id) => {
        const d = opt.dcs.get(Number(id))
        if (!d) throw new Error(`no DC ${id} in the ready line`)
        return { id: d.id, ipAddress: d.host, port: d.port }
    }
    return client
}

async function closeClient(client) {
    if (!client) return
    try {
        await within(5000, client.destroy(), 'client.destroy()')
    } catch {
        /* the process exits anyway */
    }
}

async function runTransport(opt, key, name, Conn, idx) {
    const P = `${PEER}/${name}`
    const dc1 = opt.dcs.get(1)

    // 1. the key exchange alone
    // GramJS's bare doAuthentication has no retry of its own (its TelegramClient retries the
    // exchange internally); a rare exchange it rejects on its side (the harness logs the key
    // as made) is retried here up to twice, and every failed attempt is reported in the detail.
    await step(`${P}/handshake`, async () => {
        const failures = []
        for (let attempt = 1; ; attempt++) {
            const conn = new Conn({ ip: dc1.host, port: dc1.port, dcId: 1, loggers: logger(), socket: PromisedNetSockets })
            const t0 = performance.now()
            try {
                await within(5000, conn.connect(), 'TCP connect')
                const sender = new MTProtoPlainSender(conn, logger())
                const res = await within(15000, doAuthentication(sender, logger()), 'doAuthentication')
                if (!res.authKey.getKey()) throw new Error('no auth key')
                return { dc: 1, ms: Math.round(performance.now() - t0), failed_attempts: failures,
                         auth_key_id: BigInt.asIntN(64, BigInt(String(res.authKey.keyId))).toString() }
            } catch (e) {
                failures.push(String(e && e.message || e))
                if (attempt >= 3) throw new Error(`3 attempts failed: ${failures.join(' | ')}`)
            } finally {
                await within(2000, conn.disconnect(), 'disconnect').catch(() => {})
            }
        }
    })

    // 2. a whole client on DC 1 (key exchange + invokeWithLayer(initConnection(help.getConfig)))
    let client = newClient(opt, Conn, 1)
    try {
        await step(`${P}/connect`, async () => {
            const t0 = performance.now()
            const ok = await within(20000, client.connect(), 'client.connect()')
            if (!ok) throw new Error('connect() returned false')
            return { dc: 1, layer: LAYER, ms: Math.round(performance.now() - t0) }
        }, { critical: true })

        // 3. help.getConfig: dc_options must list every DC of the ready line
        await step(`${P}/help.getConfig`, async () => {
            const cfg = await within(10000, client.invoke(new Api.help.GetConfig()), 'help.getConfig')
            if (!(cfg instanceof Api.Config)) throw new Error(`got ${cfg?.className}`)
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

        // 4. 20 pings (ping#7abe77ec through the RPC path; GramJS matches pong.msg_id)
        await step(`${P}/ping x20`, async () => {
            const rtts = []
            for (let i = 0; i < 20; i++) {
                const pingId = bigInt(randomBytes(8).readBigInt64LE(0).toString())
                const t0 = performance.now()
                const pong = await within(5000, client.invoke(new Api.Ping({ pingId })), `ping ${i}`)
                rtts.push(performance.now() - t0)
                if (!(pong instanceof Api.Pong)) throw new Error(`ping ${i}: got ${pong?.className}`)
                if (!bigInt(pong.pingId).eq(pingId)) throw new Error(`ping ${i}: ping_id ${pong.pingId} != ${pingId}`)
            }
            rtts.sort((a, b) => a - b)
            return { pongs: 20, median_ms: +rtts[10].toFixed(2) }
        })

        // 5. login on another DC: auth.sendCode -> 303 PHONE_MIGRATE_X -> GramJS asks
        // updates.getState (must fail: not authorized), switches to DC X with a new key,
        // retries; auth.signIn there with code XXXXX
        const target = pickPhoneDc(opt, 1, 2)
        const phone = phoneOn(target, 100 + idx)
        let loggedIn = false
        if (!target) {
            check(`${P}/login`, false, { error: 'need at least 2 DCs for a migration' })
        } else {
            loggedIn = await step(`${P}/login`, async () => {
                const t0 = performance.now()
                const sent = await within(25000, client.invoke(new Api.auth.SendCode({
                    phoneNumber: phone, apiId: API_ID, apiHash: API_HASH, settings: new Api.CodeSettings({}),
                })), 'auth.sendCode (with migration)')
                if (!(sent instanceof Api.auth.SentCode)) throw new Error(`auth.sendCode gave ${sent?.className}`)
                const dcNow = client.session.dcId
                if (dcNow !== target) throw new Error(`after auth.sendCode the session is on DC ${dcNow}, want ${target}`)
                const auth = await within(10000, client.invoke(new Api.auth.SignIn({
                    phoneNumber: phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: String(target).repeat(5),
                })), 'auth.signIn')
                if (!(auth instanceof Api.auth.Authorization)) throw new Error(`auth.signIn gave ${auth?.className}`)
                const u = auth.user
                if (String(u.id) !== phone || u.phone !== phone) throw new Error(`signed in as id ${u.id} phone ${u.phone}`)
                return { phone, migrated_to: dcNow, user_id: String(u.id), ms: Math.round(performance.now() - t0) }
            })
        }

        // 6. 100 RPCs, 10 in flight; every answer checked
        await step(`${P}/rpc x100`, async () => {
            let bad = null
            const n = 100
            const secs = await within(20000, pool(n, 10, async (i) => {
                if (loggedIn && i % 2) {
                    const users = await client.invoke(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }))
                    if (!Array.isArray(users) || users.length !== 1 || String(users[0].id) !== phone) {
                        bad ??= `users.getUsers #${i}: ${JSON.stringify(users?.map?.((u) => String(u.id)))}`
                    }
                } else {
                    const nd = await client.invoke(new Api.help.GetNearestDc())
                    const want = client.session.dcId
                    if (!(nd instanceof Api.NearestDc) || nd.thisDc !== want) {
                        bad ??= `help.getNearestDc #${i}: this_dc ${nd?.thisDc}, want ${want}`
                    }
                }
            }), '100 RPCs')
            if (bad) throw new Error(bad)
            return { rpcs: n, inflight: 10, seconds: +secs.toFixed(3), rpcs_per_s: Math.round(n / secs) }
        })
    } finally {
        await closeClient(client)
        client = null
    }
}

async function bench(opt, key, classes) {
    const name = opt.transports.length === TRANSPORTS.length ? 'intermediate' : opt.transports[0]
    const inflight = opt.inflight || 100
    const client = newClient(opt, classes[name], 1)
    try {
        if (!await within(20000, client.connect(), 'client.connect()')) throw new Error('connect() failed')
        // warm up
        await within(10000, pool(Math.min(200, opt.bench), inflight, () => client.invoke(new Api.help.GetNearestDc())), 'warm-up')
        let bad = 0
        const secs = await within((opt.timeout - 5) * 1000, pool(opt.bench, inflight, async () => {
            const nd = await client.invoke(new Api.help.GetNearestDc())
            if (!(nd instanceof Api.NearestDc) || nd.thisDc !== 1) bad++
        }), `${opt.bench} RPCs`)
        emit({
            peer: `gramjs ${VERSION}`, transport: name, rpcs: opt.bench, inflight, seconds: +secs.toFixed(3),
            rpcs_per_s: Math.round(opt.bench / secs), bad_answers: bad,
        })
        if (bad) process.exitCode = 1
    } catch (e) {
        check(`${PEER}/bench`, false, { error: errText(e) })
    } finally {
        await closeClient(client)
    }
}

async function main() {
    const opt = parseArgs('gramjs.mjs', TRANSPORTS)
    watchdog(PEER, opt.timeout)
    const key = rsaKeyInfo(opt.pem)
    trustOnly(key)
    const classes = routedClasses(opt.dcs)
    if (opt.bench > 0) {
        await bench(opt, key, classes)
    } else {
        check(`${PEER}/key`, key.fingerprint === String(opt.ready.rsa_fingerprint), {
            pem_fingerprint: key.fingerprint, ready_fingerprint: String(opt.ready.rsa_fingerprint),
            version: VERSION, layer: LAYER,
        })
        for (const t of opt.transports) await runTransport(opt, key, t, classes[t], TRANSPORTS.indexOf(t))
    }
    process.exit(failed() || process.exitCode ? 1 : 0)
}

main().catch((e) => {
    check(`${PEER}/main`, false, { error: errText(e) })
    if (DEBUG) console.error(e)
    process.exit(1)
})
