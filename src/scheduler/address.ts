// `HOST:PORT` as operators write it (`--master=127.0.0.1:5050`, `[::1]:5050`): the one parser now
// lives in src/protocol/address.ts (with lists and etcd:// URLs); re-exported here for old imports.
export { formatAddress, parseAddress, type Address } from '../protocol/address.js';
