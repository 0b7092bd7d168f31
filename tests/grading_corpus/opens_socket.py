# Appended (by tests/test_grading_batch.py) to a copy of a solution notebook, after its
# set-up cell: sends to a server on the grading machine's loopback, then to the internet.
# Under bwrap the kernel has no network: the cell fails at the first one.
# %%
import socket

for address in (("127.0.0.1", int("__PORT__")), ("1.1.1.1", 53)):
    socket.create_connection(address, timeout=5).sendall(b"answers of the class")
print("sent")
