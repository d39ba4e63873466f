// One ECharts instance per Chart component (Components/Shared/Chart.razor), created and driven from .NET
// through IJSObjectReference: options arrive as JSON, updates replace them in place, dispose releases
// the instance and its observers. Adds what every chart shares: a save-as-image toolbox (PNG export),
// the theme, resizing with its container, click-to-filter through .NET.
import * as echarts from '../lib/echarts/echarts.esm.min.mjs';

// Names that stand for several values, or none: clicking them cannot filter.
const NOT_FILTERABLE = new Set(['Other', 'unknown', '']);

function prepare(json, el) {
  const option = JSON.parse(json);
  option.backgroundColor = 'transparent';
  option.toolbox = option.toolbox ?? {
    right: 8,
    feature: { saveAsImage: { title: 'Save as image', name: el.getAttribute('aria-label') ?? 'chart' } },
  };
  return option;
}

export function create(el, json, dark, dotnet, filterBy) {
  let chart = null;
  let option = null;

  function init(isDark) {
    chart?.dispose();
    chart = echarts.init(el, isDark ? 'dark' : null, { renderer: 'canvas' });
    if (dotnet) {
      chart.on('click', (params) => {
        // Pie slices and category bars carry the value as their name; stacked series as the series name.
        const byName = params.seriesType === 'pie' || filterBy === 'category';
        const value = byName ? params.name : params.seriesName;
        if (value == null || NOT_FILTERABLE.has(value)) return;
        dotnet.invokeMethodAsync('Filter', String(value));
      });
    }
  }

  function draw() {
    try {
      chart.setOption(option, { notMerge: true, lazyUpdate: true });
      el.dataset.chartMounted = 'true';
      el.dataset.chartError = '';
    } catch (e) {
      el.dataset.chartError = String(e);
    }
  }

  init(dark);
  option = prepare(json, el);
  draw();
  // The drawer opening or closing resizes the content without a window resize.
  const observer = new ResizeObserver(() => chart?.resize());
  observer.observe(el);

  return {
    update(nextJson, nextDark) {
      if (nextDark !== dark) {
        dark = nextDark;
        init(dark);
      }
      option = prepare(nextJson, el);
      draw();
      el.dataset.chartVersion = String(Number(el.dataset.chartVersion ?? '0') + 1);
    },
    dispose() {
      observer.disconnect();
      chart?.dispose();
      chart = null;
    },
  };
}
