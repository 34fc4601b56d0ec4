// Placeholder replaced by the stream-port implementation.
@_exported import Transcoders
