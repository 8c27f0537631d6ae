// AudioWorklet: microphone samples (float, one channel) -> little-endian int16 messages of ~100 ms.
// The context's own rate is declared to the server, which resamples (soxr) to the model's 16 kHz.
class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.max(128, Math.round(sampleRate / 10));
    this.buffer = new Int16Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (let i = 0; i < channel.length; i++) {
        const s = Math.max(-1, Math.min(1, channel[i]));
        this.buffer[this.filled++] = s < 0 ? s * 32768 : s * 32767;
        if (this.filled === this.size) {
          this.port.postMessage(this.buffer.buffer, [this.buffer.buffer]);
          this.buffer = new Int16Array(this.size);
          this.filled = 0;
        }
      }
    }
    return true;  // keep running while the page streams
  }
}

registerProcessor("pcm-capture", PcmCapture);
