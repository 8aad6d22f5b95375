#!/usr/bin/env python3
"""A TCP forwarder that can cut its traffic, for the partition test (cluster_partition.sh).

  tcp_proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT

Forwards every connection to the target. SIGUSR1 partitions: bytes in flight are dropped and
nothing more is forwarded in either direction, but no connection is closed (a partition, not a
crash: the peers only notice by their own deadlines); new connections are accepted and left
silent. SIGUSR2 heals: the silent connections are closed, so the peers reconnect through a
working path. Prints "listening PORT" once ready.
"""
import asyncio
import signal
import sys

partitioned = False
silent = set()  # writers of connections opened or cut during a partition


async def pipe(reader, writer, pair):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if partitioned:
                silent.update(pair)
                continue  # dropped on the floor
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        if not partitioned:
            for w in pair:
                w.close()


async def handle(client_reader, client_writer, target):
    if partitioned:
        silent.add(client_writer)
        return  # accepted, never answered
    host, port = target
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    pair = (client_writer, up_writer)
    await asyncio.gather(pipe(client_reader, up_writer, pair), pipe(up_reader, client_writer, pair))


def cut(_sig=None, _frame=None):
    global partitioned
    partitioned = True


def heal(_sig=None, _frame=None):
    global partitioned
    partitioned = False
    for w in list(silent):
        w.close()
    silent.clear()


async def main():
    listen_port = int(sys.argv[1])
    host, port = sys.argv[2].rsplit(":", 1)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, heal)
    server = await asyncio.start_server(lambda r, w: handle(r, w, (host, int(port))), "127.0.0.1", listen_port)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
