// String sessions made and read by GramJS's and mtcute's own code, for tests/test_session_formats.c.
//   node session-strings.mjs make KEY_HEX DC IP PORT USER_ID
//       -> {"gramjs":"…","mtcute":"…"}   (USER_ID 0: mtcute without self)
//   node session-strings.mjs read gramjs|mtcute STRING
//       -> {"dc":N,"ip":"…","port":N,"key":"hex","user_id":N}
// Only JSON on stdout; the libraries' logging goes to stderr.
import { createRequire } from 'node:module'

console.log = console.error
console.info = console.error
const require = createRequire(import.meta.url)

async function main() {
    const a = process.argv.slice(2)
    const { StringSession } = require('telegram/sessions')
    const { AuthKey } = require('telegram/crypto/AuthKey')
    const { writeStringSession, readStringSession } = await import('@mtcute/core/utils.js')
    if (a[0] === 'make' && a.length === 6) {
        const key = Buffer.from(a[1], 'hex')
        const dc = Number(a[2]), ip = a[3], port = Number(a[4]), user = Number(a[5])
        const s = new StringSession('')
        s.setDC(dc, ip, port)
        const ak = new AuthKey()
        await ak.setKey(key)
        s.authKey = ak
        const opt = { id: dc, ipAddress: ip, port }
        const m = writeStringSession({
            version: 3,
            primaryDcs: { main: opt, media: opt },
            self: user ? { userId: user, isBot: false, isPremium: false, usernames: [] } : null,
            authKey: new Uint8Array(key),
        })
        process.stdout.write(JSON.stringify({ gramjs: s.save(), mtcute: m }) + '\n')
    } else if (a[0] === 'read' && a.length === 3 && a[1] === 'gramjs') {
        const s = new StringSession(a[2])
        await s.load()
        process.stdout.write(JSON.stringify({ dc: s.dcId, ip: s.serverAddress, port: s.port,
            key: Buffer.from(s.authKey.getKey()).toString('hex'), user_id: 0 }) + '\n')
    } else if (a[0] === 'read' && a.length === 3 && a[1] === 'mtcute') {
        const d = readStringSession(a[2])
        process.stdout.write(JSON.stringify({ dc: d.primaryDcs.main.id, ip: d.primaryDcs.main.ipAddress,
            port: d.primaryDcs.main.port, key: Buffer.from(d.authKey).toString('hex'),
            user_id: d.self ? d.self.userId : 0 }) + '\n')
    } else {
        process.stderr.write('usage: node session-strings.mjs make KEY_HEX DC IP PORT USER_ID | read gramjs|mtcute STRING\n')
        process.exit(2)
    }
}
main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1) })
