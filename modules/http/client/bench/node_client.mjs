// node_client.mjs URL N C - N GETs with C in flight through Node's fetch
// (undici, keep-alive pool), for comparison with bench_client.
const [url, n, c] = [process.argv[2], +process.argv[3], +process.argv[4]];
let left = n;
async function worker() {
  while (left > 0) {
    left--;
    const r = await fetch(url);
    await r.arrayBuffer();
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: c }, worker));
const dt = (performance.now() - t0) / 1000;
console.log(`node-fetch c=${c} n=${n}: ${dt.toFixed(3)} s, ${Math.round(n / dt)} req/s`);
