// Accounts: the people who sign in. users.ts holds what is stored and how it is read;
// service.ts every change (with its audit record and domain event).
export * from './users.ts';
export * from './service.ts';
