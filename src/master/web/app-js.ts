export const APP_JS = '';
