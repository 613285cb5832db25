export const INDEX_HTML = '';
