import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Every test here starts real libp2p nodes and waits for events (dials, Noise handshakes, frames),
    // never for a time: these bounds only stop a hung test. Generous because CI shares two cores with
    // other work, where a node's start and first handshake took over vitest's default 5 s at load 30–50.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
