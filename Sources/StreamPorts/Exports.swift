// Everything a user of StreamPorts needs from the modules below it, re-exported in one place:
// `import StreamPorts` brings the transcoders (Codec, EOLStyle, ErrorMode, Transcoder,
// TranscoderError) along, since every stream takes a Transcoder.
@_exported import Transcoders
