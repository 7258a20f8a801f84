import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { createApi } from './api.ts'
import { App } from './app.tsx'
import './styles.css'
import './narrow.css'

const root = document.getElementById('root')
if (root === null) throw new Error('index.html has no #root element')
// Same origin: the coordinator serves both the app and the API.
createRoot(root).render(
  <StrictMode>
    <App api={createApi()} />
  </StrictMode>,
)
