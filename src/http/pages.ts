// Our own pages outside any sign-in: the home page and the static files the screens use.
import type Koa from 'koa';
import type { Feature } from '../feature.ts';
import { renderPage } from './views.ts';
import { staticFiles } from './staticFiles.ts';

export const staticFeature: Feature = {
  name: 'static files',
  paths: ['/static/*'],
  routes: () => staticFiles(),
};

export const homeFeature: Feature = {
  name: 'home page',
  paths: ['/'],
  routes: ({ config }) => {
    const home: Koa.Middleware = async (ctx, next) => {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
      ctx.type = 'html';
      ctx.body = await renderPage('home', { title: 'Gatehouse', issuer: config.issuer });
    };
    return home;
  },
};
