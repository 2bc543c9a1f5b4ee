import 'dotenv/config'
import { defineConfig } from 'drizzle-kit'

// `db:generate` needs no database; `db:migrate` needs DATABASE_URL (npm start
// applies migrations itself, embedded database included).
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema/index.ts',
  out: './db/migrations',
  dbCredentials: {
    url: process.env.DATABASE_URL ?? 'postgres://localhost:5432/postgres',
  },
})
