// MTProto 2.0 envelope speed of @mtcute/core 0.30.3 (what @mtcute/node 0.30.3 runs) on inputs
// written by bench/bench_envelope.c: the auth key, and 1 KiB messages encrypted server->client.
//   node bench-envelope.mjs FILE   -> {"peer":…,"encrypt_per_s":X,"decrypt_per_s":Y,"decrypted":N}
// FILE: line 1 key hex, line 2 session id (decimal), then one encrypted packet (hex) a line.
import { readFileSync } from 'node:fs'
import Long from 'long'
import { NodeCryptoProvider } from '@mtcute/node/utils.js'

// not exported by name: the module file itself
const { AuthKey } = await import(new URL('./node_modules/@mtcute/core/network/auth-key.js', import.meta.url))

const lines = readFileSync(process.argv[2], 'utf8').trim().split('\n')
const key = Buffer.from(lines[0], 'hex')
const sessionId = Long.fromString(lines[1], false)
const packets = lines.slice(2).map((h) => new Uint8Array(Buffer.from(h, 'hex')))
const crypto = new NodeCryptoProvider()
await crypto.initialize()
const log = { verbose() {}, warn() {}, debug() {}, error() {}, info() {} }
const ak = new AuthKey(crypto, log, {})
ak.setup(new Uint8Array(key))

// decrypt: every packet must verify (msg_key, session, length, padding)
let ok = 0
for (const p of packets) ak.decryptMessage(p, sessionId, () => { ok++ })
const bench = (fn) => {
    let n = 0
    const t0 = performance.now()
    let t = 0
    do {
        for (let i = 0; i < 200; i++) fn(n++)
        t = performance.now() - t0
    } while (t < 1000)
    return (n * 1000) / t
}
const dec = bench((i) => ak.decryptMessage(packets[i % packets.length], sessionId, () => {}))
// encrypt: the inner message (msg_id, seq_no, length, 1 KiB body) as mtcute builds it
const inner = new Uint8Array(16 + 1024)
new DataView(inner.buffer).setInt32(12, 1024, true)
const salt = Long.fromInt(0x1234567)
const enc = bench(() => ak.encryptMessage(inner, salt, sessionId))
console.log(JSON.stringify({ peer: '@mtcute/core 0.30.3', encrypt_per_s: Math.round(enc), decrypt_per_s: Math.round(dec), decrypted: ok }))
