export * from './chain.js'
export * from './deposits.js'
export * from './ledger.js'
export * from './users.js'
