import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { type Page, PageOf } from '../common/pagination/pagination';
import { CatalogService } from './catalog.service';
import { ListCatalogQueryDto } from './dto/list-products-query.dto';
import { PricedProductDto } from './dto/priced-product.dto';

const PricedProductList = PageOf(PricedProductDto);

/**
 * An enterprise client browsing the catalogue with its own prices.
 * (Tagged `enterprises` until a `products` tag is declared in src/docs/openapi.ts.)
 */
@ApiTags('products')
@RequireScopes('products:read')
@Controller('v1/products')
export class ProductsController {
  constructor(private readonly catalog: CatalogService) {}

  @Get()
  @ApiOperation({
    summary: "List the products on sale, with the caller's price for each face value",
    operationId: 'listCatalogProducts',
  })
  @ApiOkResponse({ type: PricedProductList })
  @ApiBadRequestResponse({ type: Problem, description: 'Invalid filter or cursor' })
  list(@Ctx() ctx: RequestContext, @Query() query: ListCatalogQueryDto): Promise<Page<PricedProductDto>> {
    return this.catalog.listForEnterprise(ctx, query);
  }

  @Get(':id')
  @ApiOperation({
    summary: "Get a product on sale, with the caller's price for each face value",
    operationId: 'getCatalogProduct',
  })
  @ApiOkResponse({ type: PricedProductDto })
  @ApiNotFoundResponse({ type: Problem, description: 'resource_not_found, also for a product no longer on sale' })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<PricedProductDto> {
    return this.catalog.getForEnterprise(ctx, id);
  }
}
