// Mounts every element with a data-chart attribute: the attribute holds the ECharts option as JSON,
// rendered by the server. Adds what every chart shares (save-as-image toolbox, theme, resizing).
import * as echarts from '../lib/echarts/echarts.esm.min.mjs';

const charts = new Map();

function theme() {
  return document.documentElement.getAttribute('data-bs-theme') === 'dark' ? 'dark' : null;
}

function mount(el) {
  const existing = charts.get(el);
  if (existing) existing.dispose();
  let option;
  try {
    option = JSON.parse(el.dataset.chart);
  } catch (e) {
    el.textContent = 'This chart could not be read.';
    return;
  }
  // Height comes as data (the CSP forbids style attributes); CSSOM writes are allowed.
  if (el.dataset.height) el.style.height = `${Number(el.dataset.height)}px`;
  option.backgroundColor = 'transparent';
  option.toolbox = option.toolbox ?? {
    right: 8,
    feature: { saveAsImage: { title: 'Save as image', name: el.getAttribute('aria-label') ?? 'chart' } },
  };
  const chart = echarts.init(el, theme(), { renderer: 'canvas' });
  chart.setOption(option);
  charts.set(el, chart);
  el.dataset.chartMounted = 'true';
}

function mountAll() {
  for (const el of document.querySelectorAll('[data-chart]')) mount(el);
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', mountAll);
} else {
  mountAll();
}
document.addEventListener('themechange', () => {
  for (const el of charts.keys()) mount(el);
});
window.addEventListener('resize', () => {
  for (const chart of charts.values()) chart.resize();
});
