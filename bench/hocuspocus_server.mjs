// Hocuspocus as bench/collab.py runs it: `node bench/hocuspocus_server.mjs PORT`, on 127.0.0.1, no
// extension configured, so it keeps documents in memory and stores nothing (no Database/SQLite
// extension, no onStoreDocument hook).
import { Server } from '@hocuspocus/server'

const server = new Server({ port: Number(process.argv[2]), address: '127.0.0.1', quiet: true })
server.listen()
