// Writes made in one turn of the event loop leave as one writev. A socket written to uncorked
// makes one write syscall per message (and can wake its reader once per message): the agent acks
// every update of a group commit, and forwards each to the master, in the same turn. Corked on
// the first write of a turn, the socket is uncorked when the turn's nextTick queue runs, after the
// promise callbacks of that turn, so nothing waits longer than the turn that wrote it.

/** What a corkable socket offers (net.Socket, tls.TLSSocket, any stream.Writable). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Returns the function to call before each write to `socket`: it corks once per turn. */
export function turnCorker(socket: Corkable): () => void {
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    socket.cork();
    process.nextTick(uncork);
  };
}
