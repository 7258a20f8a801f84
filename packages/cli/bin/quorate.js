#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// Thin launcher so the bin works straight after `npm run build` (tsc output is not executable).
// On a fresh clone nothing is built yet: say so in one line instead of a module-resolution stack.
let main
try {
  ;({ main } = await import('../dist/main.js'))
} catch (err) {
  const notBuilt = err?.code === 'ERR_MODULE_NOT_FOUND' && /\/dist\/[^/]*\.js/.test(String(err.url ?? err.message))
  if (!notBuilt) throw err
  process.stderr.write('quorate: not built yet; run `npm run build` in the Quorate checkout first\n')
  process.exit(2)
}
// A reader that stops early (`quorate status … | head`) closes the pipe: that ends the output, it is
// not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err
  process.exit(process.exitCode ?? 0)
})
process.exitCode = await main(process.argv.slice(2))
