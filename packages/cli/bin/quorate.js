#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// Thin launcher so the bin works straight after `npm run build` (tsc output is not executable).
import { main } from '../dist/main.js'

process.exitCode = await main(process.argv.slice(2))
