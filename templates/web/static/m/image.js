// Photos resized on the phone (canvas) and on-screen signatures.

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error("无法读取这张照片")); };
    img.src = url;
  });
}

function toBlob(canvas, type, quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
}

// A JPEG no longer than `side` pixels on its longer side and under `maxBytes`.
export async function resizePhoto(file, maxBytes, side = 1600) {
  const img = await loadImage(file);
  let scale = Math.min(1, side / Math.max(img.naturalWidth, img.naturalHeight));
  let quality = 0.82;
  for (let round = 0; round < 8; round++) {
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
    canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
    canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
    const blob = await toBlob(canvas, "image/jpeg", quality);
    if (blob && blob.size <= maxBytes) return blob;
    if (quality > 0.55) quality -= 0.12; else scale *= 0.75;
  }
  throw new Error("照片压缩后仍超过大小限制，请换一张");
}

// A signature pad on a canvas: draw with a finger; `blob()` gives a PNG, `empty` until drawn.
export class SignaturePad {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.empty = true;
    this.drawing = false;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 340;
    const height = canvas.clientHeight || 150;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    this.ctx.scale(ratio, ratio);
    this.clear();
    canvas.addEventListener("pointerdown", (e) => this.start(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const ev of ["pointerup", "pointerleave", "pointercancel"]) {
      canvas.addEventListener(ev, () => { this.drawing = false; });
    }
  }
  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }
  start(e) {
    e.preventDefault();
    this.drawing = true;
    const [x, y] = this.point(e);
    this.ctx.beginPath();
    this.ctx.moveTo(x, y);
  }
  move(e) {
    if (!this.drawing) return;
    e.preventDefault();
    const [x, y] = this.point(e);
    this.ctx.lineTo(x, y);
    this.ctx.stroke();
    this.empty = false;
  }
  clear() {
    const { ctx, canvas } = this;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.restore();
    ctx.lineWidth = 2.5;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";
    this.empty = true;
  }
  blob() {
    return toBlob(this.canvas, "image/png");
  }
}
