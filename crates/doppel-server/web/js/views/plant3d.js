// 3D plant view (three.js, vendored): the lines and assets at their positions from the plant file (metres;
// the plant file's z is up), each asset coloured by its health; a click or tap opens the asset view. Without
// WebGL the view says so and draws the same layout as a 2D floor plan.

import { h, replace, schedule } from '../dom.js';
import { HEALTH, healthColor, healthLegend, stateLabel, typeName } from '../format.js';

/** Approximate machine envelopes (width along x, depth, height) in metres, by asset type. */
const SHAPES = {
  cnc_spindle: { kind: 'box', size: [2.2, 2.0, 2.4] },
  belt_conveyor: { kind: 'box', size: [2.8, 0.8, 0.9] },
  induction_motor: { kind: 'cylinder', radius: 0.35, length: 0.9 },
  centrifugal_pump: { kind: 'pump' },
  energy_meter: { kind: 'box', size: [0.6, 0.4, 1.8] },
  ambient_station: { kind: 'pole' },
};

function webglAvailable() {
  try {
    const c = document.createElement('canvas');
    return Boolean(c.getContext('webgl2') || c.getContext('webgl'));
  } catch {
    return false;
  }
}

function layout(shared) {
  const lines = [];
  for (const site of shared.plant.sites) for (const area of site.areas) for (const line of area.lines) {
    const assets = line.assets.map((a) => ({ ...a, position: shared.assets.get(a.id)?.position || [0, 0, 0] }));
    lines.push({ ...line, area: area.name, assets });
  }
  return lines;
}

/** The 2D fallback: a floor plan in SVG (x to the right, y up the page). */
function floorPlan(lines, navigate) {
  const all = lines.flatMap((l) => l.assets);
  const xs = all.map((a) => a.position[0]), ys = all.map((a) => a.position[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs) - 3, Math.max(...xs) + 3, Math.min(...ys) - 3, Math.max(...ys) + 3];
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `${x0} ${-y1} ${x1 - x0} ${y1 - y0}`);
  svg.setAttribute('class', 'floor-plan');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Floor plan of the plant, assets coloured by health');
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  const rects = new Map();
  for (const l of lines) {
    const lx = l.assets.map((a) => a.position[0]);
    const ly = l.assets.map((a) => a.position[1]);
    if (!lx.length) continue;
    el('text', { x: Math.min(...lx) - 1.5, y: -(Math.max(...ly) + 1.6), 'font-size': 1, fill: '#334' }, l.name);
    for (const a of l.assets) {
      const r = el('rect', { x: a.position[0] - 1, y: -a.position[1] - 0.8, width: 2, height: 1.6, rx: 0.2, fill: healthColor(a.health), stroke: '#223', 'stroke-width': 0.05, tabindex: 0, 'data-asset-id': a.id, style: 'cursor:pointer' });
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${a.name} (${a.id}) — ${HEALTH[a.health]?.label || a.health}`;
      r.appendChild(title);
      r.addEventListener('click', () => navigate(`#/asset/${encodeURIComponent(a.id)}`));
      rects.set(a.id, r);
    }
  }
  return { svg, rects };
}

export async function mount(el, ctx, params, query) {
  const { shared } = ctx;
  const lines = layout(shared);
  const health = new Map((shared.overview?.assets || []).map((a) => [a.id, a]));
  for (const l of lines) for (const a of l.assets) a.health = health.get(a.id)?.health || a.health;
  const stage = h('div', { class: 'stage', id: 'plant3d' });
  const tip = h('div', { class: 'tip3d', hidden: true });
  const info = h('p', { class: 'muted' }, 'Drag to turn the view, pinch or scroll to zoom, drag with two fingers (or the right mouse button) to move it. Click or tap a machine to open it.');
  replace(el,
    h('div', { class: 'page-head' }, h('h1', null, '3D plant'), healthLegend()),
    info, stage);

  if (!webglAvailable()) return fallback('This browser offers no WebGL, which the 3D view needs');
  let THREE, OrbitControls;
  try {
    THREE = await import('three');
    ({ OrbitControls } = await import('/web/vendor/three-0.180.0/OrbitControls.js'));
  } catch (e) {
    return fallback(`The 3D library could not be loaded (${e.message})`);
  }
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (e) {
    return fallback(`WebGL could not be started (${e.message})`);
  }

  function fallback(why) {
    const { svg, rects } = floorPlan(lines, ctx.navigate);
    replace(stage, h('div', { class: 'fallback', role: 'status' },
      h('p', null, h('b', null, `${why}. `), 'Below is the same layout as a floor plan (seen from above); the plant hierarchy on the Overview lists every asset too.')), svg);
    stage.dataset.webgl = 'no';
    const off = ctx.onOverview((o) => { for (const a of o.assets) rects.get(a.id)?.setAttribute('fill', healthColor(a.health)); });
    return () => off();
  }

  stage.dataset.webgl = 'yes';
  renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
  renderer.domElement.setAttribute('aria-label', 'Three-dimensional view of the plant, machines coloured by health');
  renderer.domElement.dataset.rendered = '0';
  stage.append(renderer.domElement, tip);
  const labels = h('div', { class: 'labels3d', 'aria-hidden': 'true' });
  stage.appendChild(labels);

  const scene = new THREE.Scene();
  scene.background = new THREE.Color('#e9eef3');
  const P = (p) => new THREE.Vector3(p[0], p[2], -p[1]); // plant (x, y, z-up) → three (x, y-up, z)

  const all = lines.flatMap((l) => l.assets);
  const box = new THREE.Box3();
  for (const a of all) box.expandByPoint(P(a.position));
  box.expandByScalar(4);
  const center = box.getCenter(new THREE.Vector3());
  const size = box.getSize(new THREE.Vector3());

  const floor = new THREE.Mesh(new THREE.PlaneGeometry(size.x + 6, size.z + 6), new THREE.MeshStandardMaterial({ color: '#cfd6dd' }));
  floor.rotation.x = -Math.PI / 2;
  floor.position.set(center.x, -0.01, center.z);
  scene.add(floor);
  const grid = new THREE.GridHelper(Math.ceil(Math.max(size.x, size.z) / 5) * 5 + 10, Math.ceil(Math.max(size.x, size.z) / 5) + 2, '#9aa5b1', '#b8c1ca');
  grid.position.set(center.x, 0, center.z);
  scene.add(grid);
  scene.add(new THREE.HemisphereLight('#ffffff', '#8a96a3', 1.6));
  const sun = new THREE.DirectionalLight('#ffffff', 1.6);
  sun.position.set(center.x + 20, 40, center.z + 30);
  scene.add(sun);

  const meshes = new Map(); // asset id → {group, materials}
  const pickables = [];
  const labelEls = [];
  const material = (color) => new THREE.MeshStandardMaterial({ color, roughness: 0.6, metalness: 0.15 });
  for (const l of lines) {
    if (!l.assets.length) continue;
    const xs = l.assets.map((a) => a.position[0]);
    const ys = l.assets.map((a) => a.position[1]);
    const [minX, maxX] = [Math.min(...xs) - 1.8, Math.max(...xs) + 1.8];
    const meanY = ys.reduce((s, v) => s + v, 0) / ys.length;
    const strip = new THREE.Mesh(new THREE.PlaneGeometry(maxX - minX, 3.4), new THREE.MeshStandardMaterial({ color: '#f4f6f8' }));
    strip.rotation.x = -Math.PI / 2;
    strip.position.set((minX + maxX) / 2, 0.005, -meanY);
    scene.add(strip);
    // The line's name sits on the floor just before the start of its strip.
    labelEls.push({ pos: new THREE.Vector3(minX - 0.3, 0, -meanY), el: labels.appendChild(h('span', { class: 'label3d line' }, l.name)), anchor: 'translate(-100%, -50%)' });
    l.assets.forEach((a, k) => {
      const color = healthColor(a.health);
      const group = new THREE.Group();
      const mats = [];
      const mat = () => { const m = material(color); mats.push(m); return m; };
      const shape = SHAPES[a.type] || { kind: 'box', size: [1, 1, 1] };
      let height = 1;
      if (shape.kind === 'box') {
        const [w, d, ht] = shape.size;
        const m = new THREE.Mesh(new THREE.BoxGeometry(w, ht, d), mat());
        m.position.y = ht / 2;
        group.add(m);
        height = ht;
      } else if (shape.kind === 'cylinder') {
        const m = new THREE.Mesh(new THREE.CylinderGeometry(shape.radius, shape.radius, shape.length, 24), mat());
        m.rotation.z = Math.PI / 2;
        m.position.y = shape.radius + 0.25;
        const base = new THREE.Mesh(new THREE.BoxGeometry(shape.length * 0.9, 0.25, shape.radius * 2), material('#5d6975'));
        base.position.y = 0.125;
        group.add(m, base);
        height = shape.radius * 2 + 0.25;
      } else if (shape.kind === 'pump') {
        const volute = new THREE.Mesh(new THREE.CylinderGeometry(0.4, 0.4, 0.35, 24), mat());
        volute.rotation.x = Math.PI / 2;
        volute.position.set(-0.45, 0.55, 0);
        const motor = new THREE.Mesh(new THREE.CylinderGeometry(0.28, 0.28, 0.8, 20), mat());
        motor.rotation.z = Math.PI / 2;
        motor.position.set(0.25, 0.5, 0);
        const base = new THREE.Mesh(new THREE.BoxGeometry(1.5, 0.2, 0.7), material('#5d6975'));
        base.position.y = 0.1;
        group.add(volute, motor, base);
        height = 0.95;
      } else if (shape.kind === 'pole') {
        const pole = new THREE.Mesh(new THREE.CylinderGeometry(0.05, 0.05, 1.6, 8), material('#5d6975'));
        pole.position.y = 0.8;
        const head = new THREE.Mesh(new THREE.SphereGeometry(0.2, 16, 12), mat());
        head.position.y = 1.7;
        group.add(pole, head);
        height = 1.9;
      }
      const p = P(a.position);
      group.position.copy(p);
      if (a.position[2] > 0) {
        // Raised machines (e.g. on a tower) stand on a support down to the floor.
        const support = new THREE.Mesh(new THREE.BoxGeometry(0.3, a.position[2], 0.3), material('#8a96a3'));
        support.position.set(p.x, a.position[2] / 2, p.z);
        scene.add(support);
        const deck = new THREE.Mesh(new THREE.BoxGeometry(1.6, 0.1, 1.6), material('#8a96a3'));
        deck.position.set(p.x, a.position[2] - 0.05, p.z);
        scene.add(deck);
      }
      group.traverse((o) => { if (o.isMesh) { o.userData.assetId = a.id; pickables.push(o); } });
      scene.add(group);
      const label = labels.appendChild(h('span', { class: 'label3d asset', hidden: true }, a.name));
      // Neighbours' labels alternate between two heights so they do not cover each other.
      labelEls.push({ pos: new THREE.Vector3(p.x, p.y + height + 0.4 + (k % 2) * 2.2, p.z), el: label, asset: a.id });
      meshes.set(a.id, { group, mats, asset: a, label });
    });
  }

  const camera = new THREE.PerspectiveCamera(45, 1, 0.5, 1000);
  const span = Math.max(size.x, size.z);
  // Far enough back that the whole plant fits (its bounding sphere within the vertical field of view),
  // looking down at about 40 degrees from the south.
  const radius = size.length() / 2;
  const dist = radius / Math.sin((camera.fov / 2) * (Math.PI / 180));
  camera.position.copy(center).add(new THREE.Vector3(0.1, 1, 0.85).normalize().multiplyScalar(dist * 0.8));
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.target.copy(center);
  controls.maxPolarAngle = Math.PI / 2 - 0.05;
  controls.minDistance = 3;
  controls.maxDistance = span * 3;
  const focusLine = query.get('line');
  const fl = focusLine && lines.find((l) => l.id === focusLine);
  if (fl && fl.assets.length) {
    const c = new THREE.Box3();
    for (const a of fl.assets) c.expandByPoint(P(a.position));
    const cc = c.getCenter(new THREE.Vector3());
    controls.target.copy(cc);
    camera.position.set(cc.x, 14, cc.z + 22);
  }
  controls.update();

  let frames = 0;
  const v = new THREE.Vector3();
  function render() {
    renderer.render(scene, camera);
    frames += 1;
    renderer.domElement.dataset.rendered = String(frames);
    const w = renderer.domElement.clientWidth, hh = renderer.domElement.clientHeight;
    for (const L of labelEls) {
      if (L.el.hidden) continue;
      v.copy(L.pos).project(camera);
      const visible = v.z < 1 && Math.abs(v.x) < 1.1 && Math.abs(v.y) < 1.1;
      L.el.style.display = visible ? '' : 'none';
      if (visible) L.el.style.transform = `translate(${((v.x + 1) / 2) * w}px, ${((1 - v.y) / 2) * hh}px) ${L.anchor || 'translate(-50%, -100%)'}`;
    }
  }
  const requestRender = () => schedule('plant3d', render);
  controls.addEventListener('change', requestRender);

  function resize() {
    const w = stage.clientWidth || 800;
    const hh = Math.max(320, Math.min(window.innerHeight - stage.getBoundingClientRect().top - 16, w * 0.75));
    renderer.setSize(w, hh);
    camera.aspect = w / hh;
    camera.updateProjectionMatrix();
    requestRender();
  }
  const ro = new ResizeObserver(resize);
  ro.observe(stage);
  resize();

  function colour(o) {
    for (const a of o.assets) {
      const m = meshes.get(a.id);
      if (!m) continue;
      m.asset.health = a.health; m.asset.state = a.state;
      for (const mat of m.mats) mat.color.set(healthColor(a.health));
      // Name the machines that need attention right in the scene.
      m.label.hidden = !['warning', 'alarm', 'down'].includes(a.health);
      m.label.dataset.health = a.health;
    }
    requestRender();
  }
  if (shared.overview) colour(shared.overview);
  const offOverview = ctx.onOverview(colour);

  const raycaster = new THREE.Raycaster();
  const ndc = new THREE.Vector2();
  function pick(ev) {
    const r = renderer.domElement.getBoundingClientRect();
    ndc.set(((ev.clientX - r.left) / r.width) * 2 - 1, -((ev.clientY - r.top) / r.height) * 2 + 1);
    raycaster.setFromCamera(ndc, camera);
    const hit = raycaster.intersectObjects(pickables, false)[0];
    return hit ? hit.object.userData.assetId : null;
  }
  let down = null;
  const onDown = (e) => { down = { x: e.clientX, y: e.clientY }; };
  const onUp = (e) => {
    if (!down || Math.hypot(e.clientX - down.x, e.clientY - down.y) > 6) { down = null; return; }
    down = null;
    const id = pick(e);
    if (id) ctx.navigate(`#/asset/${encodeURIComponent(id)}`);
  };
  const onMove = (e) => {
    if (e.pointerType !== 'mouse' || e.buttons) { tip.hidden = true; return; }
    const id = pick(e);
    renderer.domElement.style.cursor = id ? 'pointer' : '';
    if (!id) { tip.hidden = true; return; }
    const a = meshes.get(id).asset;
    replace(tip, h('b', null, a.name), h('br'), `${typeName(a.type)} · ${a.id}`, h('br'), `${HEALTH[a.health]?.label || a.health} · ${stateLabel(a.state)}`, h('br'), h('span', { class: 'muted' }, 'Click to open'));
    const r = stage.getBoundingClientRect();
    tip.style.left = `${e.clientX - r.left + 12}px`;
    tip.style.top = `${e.clientY - r.top + 12}px`;
    tip.hidden = false;
  };
  renderer.domElement.addEventListener('pointerdown', onDown);
  renderer.domElement.addEventListener('pointerup', onUp);
  renderer.domElement.addEventListener('pointermove', onMove);
  renderer.domElement.addEventListener('pointerleave', () => { tip.hidden = true; });

  return () => {
    offOverview();
    ro.disconnect();
    controls.dispose();
    renderer.dispose();
    scene.traverse((o) => { if (o.isMesh) { o.geometry.dispose(); o.material.dispose(); } });
  };
}
