// Preloaded into dynalite (node --require scripts/dynalite-guard.js).
// dynalite's request handler rethrows a request's 'error' event, so a client
// that goes away in the middle of a request (a function killed mid-call, a
// request cancelled at its deadline) ends the whole emulator with ECONNRESET
// "aborted", and every test sharing it fails. Such a request has no one left
// to answer; any other uncaught error still ends the process.
process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') {
    console.error('dynalite: ignored a request its client aborted')
    return
  }
  console.error(err)
  process.exit(1)
})
